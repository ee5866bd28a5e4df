using System.ComponentModel.DataAnnotations;
using Hermes.Ingest.Configuration;
using Microsoft.Extensions.Options;

namespace Hermes.Ingest.Sinks.Postgres;

/// <summary>Checks the attributes on <see cref="PostgresSinkOptions"/>' properties; the body is source-generated.</summary>
[OptionsValidator]
public sealed partial class PostgresSinkOptionsValidator : IValidateOptions<PostgresSinkOptions>;

/// <summary>The rules between the PostgreSQL sink's settings (and the ingest settings it copies), all in one place.</summary>
public sealed class PostgresSinkOptionsRules : IValidateOptions<PostgresSinkOptions>
{
    public ValidateOptionsResult Validate(string? name, PostgresSinkOptions options)
    {
        var result = new ValidateOptionsResultBuilder();

        // Counts outliving their events are useful (rollups are cheap to keep); events outliving their counts would
        // make ?source=db disagree with the rows, and retention reads the counts to report what it removed.
        if (options.RollupRetention > TimeSpan.Zero && (options.EventRetention == TimeSpan.Zero || options.RollupRetention < options.EventRetention))
        {
            var events = options.EventRetention == TimeSpan.Zero ? "0 (keep everything)" : GoDuration.Format(options.EventRetention);
            result.AddResult(new ValidationResult(
                $"it must be at least EVENT_RETENTION ({events}); set EVENT_RETENTION to at most {GoDuration.Format(options.RollupRetention)}, or ROLLUP_RETENTION to 0",
                [nameof(PostgresSinkOptions.RollupRetention), nameof(PostgresSinkOptions.EventRetention)]));
        }

        return result.Build();
    }
}

/// <summary>A partition width that tiles days: whole hours dividing a day (1h, 2h, 3h, 4h, 6h, 8h, 12h) or whole days up to 366d.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class PartitionIntervalAttribute : ValidationAttribute
{
    public override bool IsValid(object? value)
    {
        if (value is not TimeSpan interval)
        {
            return true;
        }

        var hours = interval.TotalHours;
        var wholeHoursDividingADay = hours >= 1 && hours < 24 && hours == Math.Floor(hours) && 24 % (int)hours == 0;
        var wholeDays = interval > TimeSpan.Zero && interval.Ticks % TimeSpan.TicksPerDay == 0 && interval <= TimeSpan.FromDays(366);
        return wholeHoursDividingADay || wholeDays;
    }

    public override string FormatErrorMessage(string name) => "must be 1h, 2h, 3h, 4h, 6h, 8h or 12h, or a whole number of days up to 366d";
}

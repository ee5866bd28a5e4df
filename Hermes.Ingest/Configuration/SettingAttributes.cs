using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace Hermes.Ingest.Configuration;

// The rules settings share, as validation attributes the source-generated validators check (an attribute sits on
// each property it governs). Each message is the part after "NAME=value is invalid: ", which SettingReader adds,
// naming the setting the way it was given.

/// <summary>A duration of at least <paramref name="minimum"/> (Go syntax), or more than it when <see cref="Exclusive"/>.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class MinimumDurationAttribute(string minimum) : ValidationAttribute
{
    public string Minimum { get; } = minimum;

    public bool Exclusive { get; set; }

    private TimeSpan Bound => GoDuration.TryParse(Minimum, out var bound) ? bound : throw new ArgumentException($"'{Minimum}' is not a duration.");

    public override bool IsValid(object? value) =>
        value is not TimeSpan duration || (Exclusive ? duration > Bound : duration >= Bound);

    public override string FormatErrorMessage(string name) => (Bound, Exclusive) switch
    {
        ({ Ticks: 0 }, true) => "must be greater than zero",
        ({ Ticks: 0 }, false) => "must not be negative",
        (_, true) => $"must be more than {Bound.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}ms",
        _ => $"must be at least {Bound.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}ms",
    };
}

/// <summary>A retention length: zero (keep everything) or at least an hour (<c>30d</c>, <c>720h</c>).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class RetentionAttribute : ValidationAttribute
{
    /// <summary>The reader's message for a value that is not a duration.</summary>
    public const string Expected = "expected 0 (keep everything) or a duration such as 30d, 720h or 90d";

    public override bool IsValid(object? value) =>
        value is not TimeSpan duration || duration == TimeSpan.Zero || duration >= TimeSpan.FromHours(1);

    public override string FormatErrorMessage(string name) => "must be 0 (keep everything) or at least 1h";
}

/// <summary>Events per second: 0 (no limit), or 0.000001 to 100,000,000.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class EventRateAttribute : ValidationAttribute
{
    /// <summary>Also the reader's message for a value that is not a number.</summary>
    public const string Rule = "expected events per second: 0 (no limit), or a number from 0.000001 to 100000000 (fractions such as 0.5 are kept exactly)";

    // The bucket counts micro-tokens: a millionth of an event per second is the finest rate it keeps exactly.
    public override bool IsValid(object? value) =>
        value is not double rate || rate == 0 || rate is >= 0.000001 and <= 100_000_000;

    public override string FormatErrorMessage(string name) => Rule;
}

/// <summary>Event type names: 1 to 255 of them, distinct, each 1-64 letters, digits, '_', '-' or '.'.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class EventTypeListAttribute : ValidationAttribute
{
    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext)
    {
        if (value is not string[] types)
        {
            return ValidationResult.Success;
        }

        var rule = types switch
        {
            [] => "expected a comma-separated list of event types",
            { Length: > byte.MaxValue } => $"at most {byte.MaxValue} event types are supported",
            _ when types.FirstOrDefault(t => t.Length is 0 or > 64 || t.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))) is { } bad
                => $"event type '{bad}' must be 1-64 characters of letters, digits, '_', '-' or '.'",
            _ when types.Distinct(StringComparer.Ordinal).Count() != types.Length => "event types must be distinct",
            _ => null,
        };
        return rule is null ? ValidationResult.Success : new ValidationResult(rule, Member(validationContext));
    }

    internal static string[]? Member(ValidationContext context) => context.MemberName is { } member ? [member] : null;
}

/// <summary>API keys, each <c>label:key</c> or <c>key</c>: a label of 1-32 letters, digits, '_' or '-', and a key of at least 16 printable ASCII characters.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ApiKeyListAttribute : ValidationAttribute
{
    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext)
    {
        foreach (var entry in value as string[] ?? [])
        {
            var colon = entry.IndexOf(':', StringComparison.Ordinal);
            var label = colon < 0 ? null : entry[..colon];
            var secret = colon < 0 ? entry : entry[(colon + 1)..];
            if (label is not null && (label.Length is 0 or > 32 || label.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))))
            {
                return new ValidationResult("a key's label (before ':') must be 1-32 letters, digits, '_' or '-'", EventTypeListAttribute.Member(validationContext));
            }

            if (secret.Length < 16 || secret.Any(c => c <= ' ' || c > '~'))
            {
                return new ValidationResult("each key must be at least 16 printable ASCII characters without spaces (generate one with: openssl rand -hex 24)", EventTypeListAttribute.Member(validationContext));
            }
        }

        return ValidationResult.Success;
    }
}

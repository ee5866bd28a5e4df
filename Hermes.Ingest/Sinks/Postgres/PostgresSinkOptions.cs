using Hermes.Ingest.Configuration;
using Hermes.Ingest.Sinks.Durable;

namespace Hermes.Ingest.Sinks.Postgres;

/// <summary>
/// Settings of the Postgres sink and its disk spill. Each has a seed-style environment name (<c>DB_BREAKER_FAILURES</c>)
/// and a .NET key under <c>Hermes:Postgres</c>; the environment name wins, as in <see cref="IngestOptionsLoader"/>.
/// The breaker, write timeout and spill belong to the durable layer around the writer (<see cref="Durable"/>), read
/// by the same loader from the same names.
/// </summary>
public sealed class PostgresSinkOptions
{
    public const string SectionName = "Hermes:Postgres";

    /// <summary>The Aspire connection name: <c>ConnectionStrings:hermesdb</c>.</summary>
    public const string ConnectionName = "hermesdb";

    /// <summary>Npgsql keyword form, whichever of DB_DSN and ConnectionStrings:hermesdb it came from.</summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>MAX_OPEN_CONNS: the pool's size and the most COPYs in flight at once.</summary>
    public int MaxOpenConns { get; set; } = 100;

    /// <summary>The durable layer's settings (DB_BREAKER_*, DB_WRITE_TIMEOUT, SPILL_*).</summary>
    public DurableSinkOptions Durable { get; set; } = new();

    /// <summary>
    /// PARTITION_INTERVAL: the width of each time partition of <c>events</c>, <c>event_rollup_shards</c> and
    /// <c>dead_letters</c>. Boundaries are whole multiples of it since 1970-01-01 UTC (midnight UTC for days).
    /// </summary>
    public TimeSpan PartitionInterval { get; set; } = TimeSpan.FromDays(1);

    /// <summary>EVENT_RETENTION (an ingest setting, since intake refuses older events): zero keeps every partition.</summary>
    public TimeSpan EventRetention { get; set; }

    /// <summary>ROLLUP_RETENTION: how long per-minute counts and dead letters are kept; zero keeps them all.</summary>
    public TimeSpan RollupRetention { get; set; }
}

/// <summary>Reads <see cref="PostgresSinkOptions"/>; null when no database is configured (the in-memory sink is used).</summary>
public static class PostgresSinkOptionsLoader
{
    private static readonly Setting<PostgresSinkOptions>[] Settings =
    [
        new("DB_BREAKER_FAILURES", nameof(DurableSinkOptions.BreakerFailures), (o, v) => SettingReader.Int(v, 2, 1_000_000, x => o.Durable.BreakerFailures = x)),
        new("DB_BREAKER_BREAK", nameof(DurableSinkOptions.BreakerBreak), (o, v) => SettingReader.Duration(v, TimeSpan.FromMilliseconds(500), x => o.Durable.BreakerBreak = x)),
        new("DB_WRITE_TIMEOUT", nameof(DurableSinkOptions.WriteTimeout), (o, v) => SettingReader.Duration(v, TimeSpan.FromSeconds(1), x => o.Durable.WriteTimeout = x)),
        new("SPILL_DIR", nameof(DurableSinkOptions.SpillDirectory), (o, v) => Directory(v, x => o.Durable.SpillDirectory = x)),
        new("SPILL_SHARED", nameof(DurableSinkOptions.SpillShared), (o, v) => SettingReader.Bool(v, x => o.Durable.SpillShared = x)),
        new("SPILL_MAX_BYTES", nameof(DurableSinkOptions.SpillMaxBytes), (o, v) => SettingReader.Long(v, 1L << 20, long.MaxValue, x => o.Durable.SpillMaxBytes = x)),
        new("SPILL_SEGMENT_BYTES", nameof(DurableSinkOptions.SpillSegmentBytes), (o, v) => SettingReader.Long(v, 64L << 10, 1L << 30, x => o.Durable.SpillSegmentBytes = x)),
        new("PARTITION_INTERVAL", nameof(PostgresSinkOptions.PartitionInterval), (o, v) => Interval(v, x => o.PartitionInterval = x)),
        new("ROLLUP_RETENTION", nameof(PostgresSinkOptions.RollupRetention), (o, v) => SettingReader.Retention(v, x => o.RollupRetention = x)),
    ];

    /// <summary>
    /// DB_DSN wins over <c>ConnectionStrings:hermesdb</c> (an operator's explicit setting beats the orchestrator's).
    /// Throws <see cref="InvalidSettingException"/> naming every bad setting.
    /// </summary>
    public static PostgresSinkOptions? Load(IConfiguration configuration, IngestOptions ingest)
    {
        var problems = new List<string>();
        string? connectionString = null;
        if (ingest.DbDsn is { } dsn)
        {
            if (PostgresDsn.TryParse(dsn, out var parsed) is { } rule)
            {
                var name = configuration["DB_DSN"] is not null ? "DB_DSN" : $"{IngestOptions.SectionName}:{nameof(IngestOptions.DbDsn)}";
                problems.Add($"{name}={PostgresDsn.Redact(dsn)} is invalid: {rule}.");
            }

            connectionString = parsed;
        }
        else if (configuration.GetConnectionString(PostgresSinkOptions.ConnectionName) is { Length: > 0 } named)
        {
            if (PostgresDsn.TryParse(named, out var parsed) is { } rule)
            {
                problems.Add($"ConnectionStrings:{PostgresSinkOptions.ConnectionName}={PostgresDsn.Redact(named)} is invalid: {rule}.");
            }

            connectionString = parsed;
        }

        if (connectionString is null && problems.Count == 0)
        {
            return null;
        }

        var options = new PostgresSinkOptions { ConnectionString = connectionString ?? "", MaxOpenConns = ingest.MaxOpenConns, EventRetention = ingest.EventRetention };
        SettingReader.Read(configuration, PostgresSinkOptions.SectionName, Settings, options, problems);

        // Counts outliving their events are useful (rollups are cheap to keep); events outliving their counts would
        // make ?source=db disagree with the rows, and retention reads the counts to report what it removed.
        if (options.RollupRetention > TimeSpan.Zero && (options.EventRetention == TimeSpan.Zero || options.RollupRetention < options.EventRetention))
        {
            var events = options.EventRetention == TimeSpan.Zero ? "0 (keep everything)" : GoDuration.Format(options.EventRetention);
            problems.Add($"ROLLUP_RETENTION={GoDuration.Format(options.RollupRetention)} is invalid: it must be at least EVENT_RETENTION ({events}); set EVENT_RETENTION to at most {GoDuration.Format(options.RollupRetention)}, or ROLLUP_RETENTION to 0.");
        }

        if (problems.Count > 0)
        {
            throw new InvalidSettingException(problems);
        }

        if (options.Durable is { SpillShared: true } durable)
        {
            // Never a name an earlier process used: an adopter may be deleting that one (SpillStore.TryAdopt).
            durable.SpillRoot = durable.SpillDirectory;
            durable.SpillDirectory = Path.Combine(durable.SpillRoot,
                $"{Environment.MachineName}-{Environment.ProcessId}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4))}");
        }

        return options;
    }

    /// <summary>Whole hours that divide a day (1h, 2h, 3h, 4h, 6h, 8h, 12h), or whole days (1d … 366d).</summary>
    private static string? Interval(string value, Action<TimeSpan> set)
    {
        if (!GoDuration.TryParse(value, out var d) || d <= TimeSpan.Zero)
        {
            return "expected a duration such as 1d, 6h or 7d";
        }

        var hours = d.TotalHours;
        var wholeHoursDividingADay = hours == Math.Floor(hours) && hours < 24 && 24 % (int)hours == 0;
        var wholeDays = d.Ticks % TimeSpan.TicksPerDay == 0 && d <= TimeSpan.FromDays(366);
        if (!wholeHoursDividingADay && !wholeDays)
        {
            return "must be 1h, 2h, 3h, 4h, 6h, 8h or 12h, or a whole number of days up to 366d";
        }

        set(d);
        return null;
    }

    private static string? Directory(string value, Action<string> set)
    {
        if (string.IsNullOrWhiteSpace(value) || value.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
        {
            return "expected a directory path";
        }

        set(Path.GetFullPath(value));
        return null;
    }
}

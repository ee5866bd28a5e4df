using System.ComponentModel.DataAnnotations;
using Hermes.Ingest.Configuration;

namespace Hermes.Ingest.Sinks.Postgres;

/// <summary>
/// Settings of the Postgres sink and its disk spill. Each has a seed-style environment name (<c>DB_BREAKER_FAILURES</c>)
/// and a .NET key under <c>Hermes:Postgres</c>; the environment name wins, as in <see cref="IngestOptionsLoader"/>.
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

    /// <summary>Failed writes in a row that open the breaker (at least 2: Polly's minimum throughput).</summary>
    [Range(2, 1_000_000)]
    public int BreakerFailures { get; set; } = 3;

    /// <summary>How long the breaker stays open before one trial write.</summary>
    [MinimumDuration("500ms")]
    public TimeSpan BreakerBreak { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Limit on one write (connect + COPY + commit); past it the write counts as a timeout.</summary>
    [MinimumDuration("1s")]
    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The directory this instance spills into and keeps its run ledger in: SPILL_DIR, or with
    /// <see cref="SpillShared"/> a subdirectory of it that is new for every process.</summary>
    public string SpillDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "hermes-spill");

    /// <summary>
    /// SPILL_SHARED: SPILL_DIR is a root that several instances share (replicas on one machine, or a volume shared by
    /// containers). Each process spills into its own new subdirectory, and replays the subdirectories whose lock no
    /// live process holds: what a stopped or killed instance left is replayed once, by whoever finds it first.
    /// </summary>
    public bool SpillShared { get; set; }

    /// <summary>With <see cref="SpillShared"/>, the shared root (SPILL_DIR as configured); otherwise null.</summary>
    public string? SpillRoot { get; set; }

    /// <summary>Spill bound; a batch that would cross it is dropped and counted (reason spill_full).</summary>
    [Range(typeof(long), "1048576", "9223372036854775807")]
    public long SpillMaxBytes { get; set; } = 1L << 30;

    /// <summary>A segment file is sealed and a new one begun past this size, so replay can delete as it goes.</summary>
    [Range(typeof(long), "65536", "1073741824")]
    public long SpillSegmentBytes { get; set; } = 16L << 20;

    /// <summary>
    /// PARTITION_INTERVAL: the width of each time partition of <c>events</c>, <c>event_rollup_shards</c> and
    /// <c>dead_letters</c>. Boundaries are whole multiples of it since 1970-01-01 UTC (midnight UTC for days).
    /// </summary>
    [PartitionInterval]
    public TimeSpan PartitionInterval { get; set; } = TimeSpan.FromDays(1);

    /// <summary>EVENT_RETENTION (an ingest setting, since intake refuses older events): zero keeps every partition.</summary>
    public TimeSpan EventRetention { get; set; }

    /// <summary>ROLLUP_RETENTION: how long per-minute counts and dead letters are kept; zero keeps them all.</summary>
    [Retention]
    public TimeSpan RollupRetention { get; set; }
}

/// <summary>Reads <see cref="PostgresSinkOptions"/>; null when no database is configured (the in-memory sink is used).</summary>
public static class PostgresSinkOptionsLoader
{
    private static readonly Setting<PostgresSinkOptions>[] Settings =
    [
        new("DB_BREAKER_FAILURES", nameof(PostgresSinkOptions.BreakerFailures), (o, v) => SettingReader.Int(v, x => o.BreakerFailures = x)),
        new("DB_BREAKER_BREAK", nameof(PostgresSinkOptions.BreakerBreak), (o, v) => SettingReader.Duration(v, x => o.BreakerBreak = x)),
        new("DB_WRITE_TIMEOUT", nameof(PostgresSinkOptions.WriteTimeout), (o, v) => SettingReader.Duration(v, x => o.WriteTimeout = x)),
        new("SPILL_DIR", nameof(PostgresSinkOptions.SpillDirectory), (o, v) => Directory(v, x => o.SpillDirectory = x)),
        new("SPILL_SHARED", nameof(PostgresSinkOptions.SpillShared), (o, v) => SettingReader.Bool(v, x => o.SpillShared = x)),
        new("SPILL_MAX_BYTES", nameof(PostgresSinkOptions.SpillMaxBytes), (o, v) => SettingReader.Long(v, x => o.SpillMaxBytes = x)),
        new("SPILL_SEGMENT_BYTES", nameof(PostgresSinkOptions.SpillSegmentBytes), (o, v) => SettingReader.Long(v, x => o.SpillSegmentBytes = x)),
        new("PARTITION_INTERVAL", nameof(PostgresSinkOptions.PartitionInterval), (o, v) => SettingReader.Duration(v, x => o.PartitionInterval = x, "expected a duration such as 1d, 6h or 7d")),
        new("ROLLUP_RETENTION", nameof(PostgresSinkOptions.RollupRetention), (o, v) => SettingReader.Duration(v, x => o.RollupRetention = x, RetentionAttribute.Expected)),
    ];

    /// <summary>The seed names this reader knows (README's settings tables list each one).</summary>
    public static IEnumerable<string> SeedNames => Settings.Select(s => s.EnvName);

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
        SettingReader.Read(configuration, PostgresSinkOptions.SectionName, Settings, options, problems)
            .Validate(options, problems, new PostgresSinkOptionsValidator(), new PostgresSinkOptionsRules());

        if (problems.Count > 0)
        {
            throw new InvalidSettingException(problems);
        }

        if (options.SpillShared)
        {
            // Never a name an earlier process used: an adopter may be deleting that one (SpillStore.TryAdopt).
            options.SpillRoot = options.SpillDirectory;
            options.SpillDirectory = Path.Combine(options.SpillRoot,
                $"{Environment.MachineName}-{Environment.ProcessId}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4))}");
        }

        return options;
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

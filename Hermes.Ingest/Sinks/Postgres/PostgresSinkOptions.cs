using System.ComponentModel.DataAnnotations;
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
    /// <remarks>
    /// Not [ValidateObjectMembers]: the loader holds them to <see cref="DurableSinkOptionsValidator"/> itself, with
    /// their own setting names, so nested validation would report each bad value twice under a dotted name.
    /// </remarks>
#pragma warning disable SYSLIB1212 // validated on its own (above)
    public DurableSinkOptions Durable { get; set; } = new();
#pragma warning restore SYSLIB1212

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
        new("PARTITION_INTERVAL", nameof(PostgresSinkOptions.PartitionInterval), (o, v) => SettingReader.Duration(v, x => o.PartitionInterval = x, "expected a duration such as 1d, 6h or 7d")),
        new("ROLLUP_RETENTION", nameof(PostgresSinkOptions.RollupRetention), (o, v) => SettingReader.Duration(v, x => o.RollupRetention = x, RetentionAttribute.Expected)),
    ];

    /// <summary>The durable layer's settings: read from the same section, held to <see cref="DurableSinkOptions"/>' own rules.</summary>
    private static readonly Setting<DurableSinkOptions>[] DurableSettings =
    [
        new("DB_BREAKER_FAILURES", nameof(DurableSinkOptions.BreakerFailures), (o, v) => SettingReader.Int(v, x => o.BreakerFailures = x)),
        new("DB_BREAKER_BREAK", nameof(DurableSinkOptions.BreakerBreak), (o, v) => SettingReader.Duration(v, x => o.BreakerBreak = x)),
        new("DB_WRITE_TIMEOUT", nameof(DurableSinkOptions.WriteTimeout), (o, v) => SettingReader.Duration(v, x => o.WriteTimeout = x)),
        new("SPILL_DIR", nameof(DurableSinkOptions.SpillDirectory), (o, v) => Directory(v, x => o.SpillDirectory = x)),
        new("SPILL_SHARED", nameof(DurableSinkOptions.SpillShared), (o, v) => SettingReader.Bool(v, x => o.SpillShared = x)),
        new("SPILL_MAX_BYTES", nameof(DurableSinkOptions.SpillMaxBytes), (o, v) => SettingReader.Long(v, x => o.SpillMaxBytes = x)),
        new("SPILL_SEGMENT_BYTES", nameof(DurableSinkOptions.SpillSegmentBytes), (o, v) => SettingReader.Long(v, x => o.SpillSegmentBytes = x)),
    ];

    /// <summary>The seed names this reader knows (README's settings tables list each one).</summary>
    public static IEnumerable<string> SeedNames => Settings.Select(s => s.EnvName).Concat(DurableSettings.Select(s => s.EnvName));

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
        SettingReader.Read(configuration, PostgresSinkOptions.SectionName, DurableSettings, options.Durable, problems)
            .Validate(options.Durable, problems, new DurableSinkOptionsValidator());
        SettingReader.Read(configuration, PostgresSinkOptions.SectionName, Settings, options, problems)
            .Validate(options, problems, new PostgresSinkOptionsValidator(), new PostgresSinkOptionsRules());

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

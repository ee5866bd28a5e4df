namespace Hermes.AppHost;

/// <summary>
/// PostgreSQL server settings for an ingest workload, in one place: the local binaries get them as <c>-c name=value</c>
/// on the postgres command line, the container as the same arguments after its entrypoint, and the README gives the
/// <c>az postgres flexible-server parameter set</c> line for each (a test keeps the three in step).
/// </summary>
/// <remarks>
/// The values are a sound start, not a measurement: the storage benchmarks (<c>bench/postgres.sh</c>) own them and
/// change them here. Each ingest batch is a COPY and a commit, so the server writes WAL fast; the stock
/// max_wal_size (1GB) and checkpoint_timeout (5min) make it checkpoint every few seconds under load, and every
/// checkpoint rewrites whole pages into the WAL again (full_page_writes).
/// </remarks>
public static class PostgresServerSettings
{
    /// <summary>The major version tests run (Debian's postgresql-15) and deployments pin: the container's tag and the managed server's --version.</summary>
    public const string MajorVersion = "15";

    public static IReadOnlyList<ServerSetting> Ingest { get; } =
    [
        // Checkpoints by time rather than by WAL volume at a few hundred thousand rows/s: 4GB of WAL between them.
        new("max_wal_size", "4GB", AzureValue: "4096"),

        // Fewer checkpoints, so fewer full-page images; crash recovery replays at most ~15 minutes of WAL.
        new("checkpoint_timeout", "15min", AzureValue: "900"),

        // Full-page images compressed; lz4 costs little CPU (Debian's and the official image's builds have it).
        new("wal_compression", "lz4", AzureValue: "lz4"),
    ];

    /// <summary>The settings as postgres command-line arguments: <c>-c name=value</c> each.</summary>
    public static IEnumerable<string> CommandLine() => Ingest.SelectMany(s => new[] { "-c", $"{s.Name}={s.Value}" });
}

/// <summary>One server setting; <paramref name="AzureValue"/> is the same value as the flexible server takes it (its unit, no suffix).</summary>
public sealed record ServerSetting(string Name, string Value, string AzureValue);

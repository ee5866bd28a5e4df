namespace Hermes.AppHost;

/// <summary>
/// PostgreSQL server settings for an ingest workload, in one place: the local binaries get them as <c>-c name=value</c>
/// on the postgres command line, the container as the same arguments after its entrypoint, and the README gives the
/// <c>az postgres flexible-server parameter set</c> line for each (a test keeps the three in step).
/// </summary>
/// <remarks>
/// Measured (2026-12-02, 2 cores, PostgreSQL 15, Hermes at its defaults, random UUIDv4 ids, 120 s each, see
/// docs/ENGINEERING.md §9.2): stock settings 179k–190k committed rows/s; these two 174k; adding wal_compression=lz4
/// 168k; adding shared_buffers=2GB 161k. WAL per row was 271–272 bytes in every run: with the (ts, id) key the pages
/// being written are few and hot, so checkpoints add few full-page images and none of the settings raised the rate.
/// The two kept cut checkpoints under load from 10–11 to 2 per 2 minutes (less bursty I/O, and fewer full-page images
/// for a workload whose pages are less hot than ours) at no cost measurable on this box (±10%); lz4 cost CPU and saved
/// nothing, so it is not set. Hermes does not depend on any of them: a managed server at its defaults is fine.
/// </remarks>
public static class PostgresServerSettings
{
    /// <summary>The major version tests run (Debian's postgresql-15) and deployments pin: the container's tag and the managed server's --version.</summary>
    public const string MajorVersion = "15";

    public static IReadOnlyList<ServerSetting> Ingest { get; } =
    [
        // Checkpoints by time rather than by WAL volume at a few hundred thousand rows/s: 4GB of WAL between them.
        new("max_wal_size", "4GB", AzureValue: "4096"),

        // Fewer checkpoints; crash recovery replays at most ~15 minutes of WAL.
        new("checkpoint_timeout", "15min", AzureValue: "900"),
    ];

    /// <summary>The settings as postgres command-line arguments: <c>-c name=value</c> each.</summary>
    public static IEnumerable<string> CommandLine() => Ingest.SelectMany(s => new[] { "-c", $"{s.Name}={s.Value}" });
}

/// <summary>One server setting; <paramref name="AzureValue"/> is the same value as the flexible server takes it (its unit, no suffix).</summary>
public sealed record ServerSetting(string Name, string Value, string AzureValue);

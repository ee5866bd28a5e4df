using System.ComponentModel.DataAnnotations;
using Hermes.Ingest.Configuration;
using Microsoft.Extensions.Options;

namespace Hermes.Ingest.Sinks.Durable;

/// <summary>
/// Settings of the durable layer, whatever the destination: the breaker in front of the writer, the per-write timeout,
/// and the disk spill. Their seed-style names (<c>DB_BREAKER_FAILURES</c>, <c>SPILL_DIR</c>) and .NET keys under
/// <c>Hermes:Postgres</c> are the ones they had when PostgreSQL was the only durable sink, so deployments keep them;
/// the sink's own loader reads them (<c>PostgresSinkOptionsLoader</c> fills these beside PostgreSQL's).
/// </summary>
public sealed class DurableSinkOptions
{
    public const string SectionName = "Hermes:Postgres";

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
}

/// <summary>Checks the attributes on <see cref="DurableSinkOptions"/>' properties; the body is source-generated.</summary>
[OptionsValidator]
public sealed partial class DurableSinkOptionsValidator : IValidateOptions<DurableSinkOptions>;

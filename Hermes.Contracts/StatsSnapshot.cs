namespace Hermes.Contracts;

/// <summary>
/// One <c>GET /stats</c> snapshot of an ingest instance, also pushed once a second by <c>GET /aggregates/stream</c>.
/// Ingest builds it (LiveStats) and the dashboard reads it, both through <see cref="ContractsJsonContext"/>; absent
/// parts (<see cref="PreviousRun"/>, and the durable sink's fields of <see cref="SinkStats"/>) are left out of the JSON.
/// </summary>
public sealed record StatsSnapshot
{
    /// <summary>Ingest's clock when the snapshot was built, Unix milliseconds.</summary>
    public long Time { get; init; }

    /// <summary><c>host:pid</c> of the instance that built it.</summary>
    public string Instance { get; init; } = "";

    public double EventsPerSecond { get; init; }

    public long Accepted { get; init; }

    public long Flushed { get; init; }

    /// <summary>Refused events by reason (<c>invalid</c>, <c>malformed</c>, <c>queue_full</c>, …), every reason listed.</summary>
    public Dictionary<string, long> Rejected { get; init; } = [];

    public QueueStats Queue { get; init; } = new();

    public WorkerStats Workers { get; init; } = new();

    public FlushStats Flush { get; init; } = new();

    public SinkStats Sink { get; init; } = new();

    /// <summary>Only after a run that did not stop cleanly: what it answered 202 and had not stored.</summary>
    public PreviousRunStats? PreviousRun { get; init; }

    /// <summary>In-memory counts keyed <c>"&lt;type&gt;:&lt;minute Unix seconds&gt;"</c>, the last hour, by minute then type.</summary>
    public Dictionary<string, long> Aggregates { get; init; } = [];
}

public sealed record QueueStats
{
    public long Length { get; init; }

    public long Capacity { get; init; }

    public double OldestAgeSeconds { get; init; }
}

public sealed record WorkerStats
{
    public int Count { get; init; }

    public int Busy { get; init; }
}

public sealed record FlushStats
{
    public long Batches { get; init; }

    public double P50Ms { get; init; }

    public double P99Ms { get; init; }
}

/// <summary>The sink's state. Everything past <see cref="Durable"/> is there only with a durable sink.</summary>
public sealed record SinkStats
{
    /// <summary><c>memory</c>, <c>postgres</c>, …</summary>
    public string Name { get; init; } = "";

    public bool Durable { get; init; }

    /// <summary><c>closed</c>, <c>open</c> or <c>half-open</c>.</summary>
    public string? Circuit { get; init; }

    /// <summary>New events stored (events already stored, sent again, are not counted).</summary>
    public long? RowsWritten { get; init; }

    public long? SpillBytes { get; init; }

    public long? SpillEvents { get; init; }

    public long? DeadLetters { get; init; }

    /// <summary>Events lost for good, all reasons.</summary>
    public long? Dropped { get; init; }

    /// <summary>What the backend keeps and what its retention removed (PostgreSQL: time partitions).</summary>
    public StorageStats? Storage { get; init; }
}

public sealed record StorageStats
{
    /// <summary><c>1d</c>, <c>6h</c>, …</summary>
    public string PartitionInterval { get; init; } = "";

    /// <summary>Partitions per table, the archive partition included.</summary>
    public Dictionary<string, long> Partitions { get; init; } = [];

    public RetentionStats Retention { get; init; } = new();
}

public sealed record RetentionStats
{
    /// <summary><c>keep</c>, or how long stored events are kept (<c>30d</c>).</summary>
    public string Events { get; init; } = "keep";

    /// <summary><c>keep</c>, or how long per-minute counts and dead letters are kept.</summary>
    public string Rollups { get; init; } = "keep";

    /// <summary>Partitions retention dropped since this instance started, per table.</summary>
    public Dictionary<string, long> DroppedPartitions { get; init; } = [];

    /// <summary>Stored events that went with them (as counted by their rollups).</summary>
    public long DroppedEvents { get; init; }
}

/// <summary>The previous run (or, with SPILL_SHARED, the dead instances adopted since start) that did not stop cleanly.</summary>
public sealed record PreviousRunStats
{
    /// <summary>Always false: a clean previous run is not reported.</summary>
    public bool Clean { get; init; }

    public int Pid { get; init; }

    /// <summary>Its last 100 ms checkpoint, Unix milliseconds.</summary>
    public long CheckpointAt { get; init; }

    /// <summary>Events it answered 202 and had not stored at that checkpoint.</summary>
    public long AtRiskEvents { get; init; }

    /// <summary>How many unclean runs are summed (more than one only with SPILL_SHARED).</summary>
    public int Runs { get; init; }
}

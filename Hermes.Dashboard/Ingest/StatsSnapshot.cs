using System.Text.Json;
using System.Text.Json.Serialization;

namespace Hermes.Dashboard.Ingest;

/// <summary>One <c>GET /stats</c> snapshot of ingest, as pushed by <c>GET /aggregates/stream</c> once a second.</summary>
public sealed record StatsSnapshot
{
    /// <summary>Ingest's clock when the snapshot was built, Unix milliseconds.</summary>
    public long Time { get; init; }

    public string Instance { get; init; } = "";

    public double EventsPerSecond { get; init; }

    public long Accepted { get; init; }

    public long Flushed { get; init; }

    /// <summary>Refused events by reason (<c>invalid</c>, <c>malformed</c>, <c>queue_full</c>, …).</summary>
    public Dictionary<string, long> Rejected { get; init; } = [];

    public QueueStats Queue { get; init; } = new();

    public WorkerStats Workers { get; init; } = new();

    public FlushStats Flush { get; init; } = new();

    public SinkStats Sink { get; init; } = new();

    /// <summary>Counts keyed <c>"&lt;type&gt;:&lt;minute Unix seconds&gt;"</c>, the last hour.</summary>
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

public sealed record SinkStats
{
    public string Name { get; init; } = "";

    public bool Durable { get; init; }

    /// <summary><c>closed</c>, <c>open</c> or <c>half-open</c>; only with the PostgreSQL sink.</summary>
    public string? Circuit { get; init; }

    public long? RowsWritten { get; init; }

    public long? SpillBytes { get; init; }

    public long? SpillEvents { get; init; }

    public long? DeadLetters { get; init; }

    public long? Dropped { get; init; }
}

/// <summary>Source-generated JSON for the once-a-second snapshot: no reflection on the hot read path.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(StatsSnapshot))]
[JsonSerializable(typeof(Dictionary<string, long>))]
public sealed partial class IngestJsonContext : JsonSerializerContext;

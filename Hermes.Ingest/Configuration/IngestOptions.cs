using System.ComponentModel.DataAnnotations;

namespace Hermes.Ingest.Configuration;

/// <summary>How intake answers when the queue has no room.</summary>
public enum BackpressureMode
{
    /// <summary>Answer 503 with Retry-After at once.</summary>
    Strict,

    /// <summary>Wait up to <see cref="IngestOptions.BlockTimeout"/> for room, then answer 503.</summary>
    Block,
}

/// <summary>
/// Every engine setting, with its rule beside it: <see cref="IngestOptionsValidator"/> (source-generated) checks the
/// attributes, <see cref="IngestOptionsRules"/> the rules between settings. Bound from the seed's environment
/// variables (QUEUE_SIZE, FLUSH_INTERVAL, …) or from standard .NET configuration under <c>Hermes:Ingest</c>;
/// <see cref="IngestOptionsLoader"/> says which wins. Consumers take <c>IOptions&lt;IngestOptions&gt;</c>.
/// </summary>
public sealed class IngestOptions
{
    public const string SectionName = "Hermes:Ingest";

    public static readonly string[] DefaultEventTypes = ["trip_started", "song_played", "ad_clicked", "location_update"];

    /// <summary>Listen address in the seed's form (<c>:8080</c> or <c>host:port</c>); null keeps ASP.NET's own URL settings.</summary>
    public string? HttpAddress { get; set; }

    [Range(1, 100_000_000)]
    public int QueueSize { get; set; } = 100_000;

    /// <summary>
    /// Cores × 2, where the seed had NumCPU × 4. With PostgreSQL each worker's flush is a COPY on a backend of its own,
    /// and on 2 cores eight concurrent COPYs of 1,000 rows cost PostgreSQL 9.0 CPU-s per 1M rows against 6.6 for four
    /// of 10,000 (random UUIDv4 ids, PostgreSQL 15 at its defaults): 153k against 201k committed rows/s. Two per core
    /// still overlap one batch's commit with the next one's COPY.
    /// </summary>
    [Range(1, 1024)]
    public int WorkerCount { get; set; } = Environment.ProcessorCount * 2;

    /// <summary>
    /// 10,000, where the seed had 1,000: PostgreSQL pays per transaction (COPY setup, the rollup upsert, the commit's
    /// WAL flush), measured at about 2 ms per batch on 2 cores. At low rates batches are cut by FLUSH_INTERVAL anyway.
    /// </summary>
    [Range(1, 1_000_000)]
    public int BatchSize { get; set; } = 10_000;

    [MinimumDuration("0", Exclusive = true)]
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    [MinimumDuration("0", Exclusive = true)]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public string? DbDsn { get; set; }

    [Range(1, 10_000)]
    public int MaxOpenConns { get; set; } = 100;

    public BackpressureMode BackpressureMode { get; set; } = BackpressureMode.Strict;

    /// <summary>How long <see cref="BackpressureMode.Block"/> waits for room before answering 503.</summary>
    [MinimumDuration("0", Exclusive = true)]
    public TimeSpan BlockTimeout { get; set; } = TimeSpan.FromSeconds(1);

    [EventTypeList]
    public string[] EventTypes { get; set; } = DefaultEventTypes;

    /// <summary>
    /// Segment <c>track</c> event names mapped to a type explicitly (<c>Ride Started=trip_started</c>); any other name
    /// counts as its snake_case form (<c>Song Played</c> → <c>song_played</c>), which must be one of <see cref="EventTypes"/>.
    /// </summary>
    public Dictionary<string, string> SegmentEventMap { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How far past the server's clock an event timestamp may lie (producer clocks drift).</summary>
    [MinimumDuration("0")]
    public TimeSpan MaxFutureSkew { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long stored events are kept (zero: forever). Events older than this are refused at intake (400, rule
    /// <c>retention</c>), and the PostgreSQL sink drops whole partitions once they are entirely older than it.
    /// </summary>
    [Retention]
    public TimeSpan EventRetention { get; set; }

    [Range(1, 4096)]
    public int MaxIdLength { get; set; } = 128;

    [Range(2, 64 * 1024 * 1024)]
    public int MaxPayloadBytes { get; set; } = 16 * 1024;

    /// <summary>Body limit of <c>POST /events</c>.</summary>
    [Range(64, 64 * 1024 * 1024)]
    public int MaxEventBytes { get; set; } = 64 * 1024;

    /// <summary>Body limit of <c>POST /events/batch</c> as sent (compressed or not).</summary>
    [Range(64, 1024 * 1024 * 1024)]
    public int MaxBatchBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Limit of a gzip batch body once inflated; checked while inflating, so a bomb costs at most this much.</summary>
    [Range(64, 1024 * 1024 * 1024)]
    public int MaxInflatedBytes { get; set; } = 64 * 1024 * 1024;

    [Range(1, 1_000_000)]
    public int MaxBatchEvents { get; set; } = 10_000;

    [Range(2, 256)]
    public int MaxJsonDepth { get; set; } = 32;

    /// <summary>A (type, minute) count is kept this long after its last update.</summary>
    [MinimumDuration("0", Exclusive = true)]
    public TimeSpan AggregateRetention { get; set; } = TimeSpan.FromHours(2);

    /// <summary>Hard cap on live (type, minute) buckets, whatever timestamps producers send.</summary>
    [Range(1, 100_000_000)]
    public int MaxAggregateBuckets { get; set; } = 100_000;

    /// <summary>Maps <c>/debug/*</c> (CPU trace, heap dump, runtime counters). Never on the open internet.</summary>
    public bool DebugEndpoints { get; set; }

    /// <summary>Time a client has to send all request headers (slow-loris guard).</summary>
    [MinimumDuration("0", Exclusive = true)]
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Slowest request body Kestrel accepts, after <see cref="MinRequestBodyGrace"/> (slow-loris guard).</summary>
    [Range(1, 100_000_000)]
    public int MinRequestBodyBytesPerSecond { get; set; } = 240;

    [MinimumDuration("1s", Exclusive = true)]
    public TimeSpan MinRequestBodyGrace { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Producer keys (<c>label:key</c> or <c>key</c>); when any is set, POSTs need one.</summary>
    [ApiKeyList]
    public string[] ApiKeys { get; set; } = [];

    /// <summary>Keys for <c>/aggregates</c>, <c>/stats</c> and the stream; when any is set, those GETs need one.</summary>
    [ApiKeyList]
    public string[] ReadApiKeys { get; set; } = [];

    /// <summary>Keys for <c>/debug/*</c>; required when <see cref="DebugEndpoints"/> is on. Admin keys may also read.</summary>
    [ApiKeyList]
    public string[] AdminApiKeys { get; set; } = [];

    /// <summary>Events per second each producer key may send (0: no limit). Without keys, all producers share one bucket.</summary>
    [EventRate]
    public double RateLimitPerKey { get; set; }

    /// <summary>Events a key may send at once above its rate (default: one second's worth, at least 1; the loader sets it).</summary>
    [Range(1, 100_000_000)]
    public int RateLimitBurst { get; set; } = 1;
}

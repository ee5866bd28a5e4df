namespace Hermes.Client;

/// <summary>
/// How the client reaches Hermes and how it buffers, batches and retries. Bound from the configuration section
/// <c>Hermes:Client</c> by <c>builder.AddHermesClient(…)</c> (for example <c>Hermes__Client__ApiKey</c>), then
/// adjusted by the optional delegate, then validated: a bad value stops startup with a message naming the setting.
/// </summary>
public sealed class HermesClientSettings
{
    /// <summary>The configuration section the settings are read from.</summary>
    public const string SectionName = "Hermes:Client";

    /// <summary>
    /// Hermes's base address, for example <c>http://localhost:8080</c>. Under Aspire it defaults to
    /// <c>https+http://{service name}</c>, resolved by service discovery.
    /// </summary>
    public Uri? Endpoint { get; set; }

    /// <summary>A producer key from Hermes's <c>API_KEYS</c>; sent on every request, never logged.</summary>
    public string? ApiKey { get; set; }

    /// <summary>The header the key is sent in: <c>X-Api-Key</c> (default) or, for example, a proxy's own.</summary>
    public string ApiKeyHeaderName { get; set; } = "X-Api-Key";

    /// <summary>
    /// Most events waiting to be sent (default 10,000); the batches in flight, at most <c>MaxConcurrentRequests</c> ×
    /// <c>MaxBatchEvents</c> events, are held on top. When it is full, <c>Track</c> drops the new event and counts it
    /// (<c>hermes_client_events_dropped_total{reason="buffer_full"}</c>). It is how long an outage the client rides
    /// out: 10,000 events is 100 s at 100 events/s.
    /// </summary>
    public int BufferCapacity { get; set; } = 10_000;

    /// <summary>Most events per request (default 1,000; Hermes's <c>MAX_BATCH_EVENTS</c> is 10,000).</summary>
    public int MaxBatchEvents { get; set; } = 1_000;

    /// <summary>Most NDJSON bytes per request before compression (default 1 MiB; Hermes's <c>MAX_BATCH_BYTES</c> is 16 MiB).</summary>
    public int MaxBatchBytes { get; set; } = 1 << 20;

    /// <summary>A partial batch is sent once this long has passed since the last one (default 1 s).</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Most requests in flight at once (default 1: batches go out in order, one at a time).</summary>
    public int MaxConcurrentRequests { get; set; } = 1;

    /// <summary>
    /// Send <c>?ack=durable</c>: Hermes answers only once the events are committed to PostgreSQL or fsynced to its
    /// spill, so a batch that was answered survives a crash of Hermes. Hermes refuses it without PostgreSQL.
    /// </summary>
    public bool DurableAck { get; set; }

    /// <summary>Longest one HTTP attempt may take before it is abandoned and retried (default 10 s).</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest pause between retries of a failed batch, once the backoff has grown (default 30 s); a <c>Retry-After</c> is honoured whatever its length.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long disposal and host shutdown wait for the buffer to be delivered (default 10 s, within the host's
    /// own 30 s). What is still undelivered then is counted in <c>hermes_client_events_lost_total</c> and logged.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Leave out the <c>hermes-client</c> health check.</summary>
    public bool DisableHealthChecks { get; set; }

    /// <summary>Do not register the <c>Hermes.Client</c> ActivitySource with OpenTelemetry.</summary>
    public bool DisableTracing { get; set; }

    /// <summary>Do not register the <c>Hermes.Client</c> meter with OpenTelemetry.</summary>
    public bool DisableMetrics { get; set; }
}

using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Hermes.Client.Buffering;
using Hermes.Client.Diagnostics;
using Hermes.Client.Sending;
using Microsoft.Extensions.Logging;

namespace Hermes.Client;

/// <summary>
/// Sends events to Hermes. <see cref="Track(string, string, object?, DateTimeOffset?)"/> never blocks and never
/// waits for the network: it gives the event its id (UUIDv7) and timestamp, serializes it into a bounded in-memory
/// buffer and returns; a background sender posts the buffer in gzip NDJSON batches and retries each batch until
/// Hermes answers it. Because an event keeps its id and timestamp across retries, and Hermes stores an event (its
/// id and timestamp) once, a retry is exactly idempotent. Register it with <c>builder.AddHermesClient("ingest")</c>
/// or <c>services.AddHermesClient(uri)</c>; one per application, thread-safe.
/// </summary>
public sealed class HermesClient : IAsyncDisposable, IDisposable
{
    private readonly HermesClientSettings _settings;
    private readonly EventBuffer _buffer;
    private readonly HermesClientMetrics _metrics;
    private readonly DeliveryState _delivery;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly BatchSender _sender;
    private readonly Lock _shutdownLock = new();
    private Task<int>? _shutdown;
    private int _closed;
    private int _bufferFullLogged;

    internal HermesClient(HermesClientSettings settings, EventBuffer buffer, HermesClientMetrics metrics, DeliveryState delivery,
        IHttpClientFactory http, ILogger<HermesClient> logger, TimeProvider time)
    {
        _settings = settings;
        _buffer = buffer;
        _metrics = metrics;
        _delivery = delivery;
        _logger = logger;
        _time = time;
        _sender = new BatchSender(buffer, settings, http, metrics, delivery, logger, time);
        Log.Started(logger, settings.Endpoint!.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.Unescaped),
            settings.MaxBatchEvents, settings.FlushInterval, settings.DurableAck, settings.BufferCapacity);
    }

    /// <summary>What the client has done so far: a consistent-enough snapshot of its counters.</summary>
    /// <remarks>Tracked = Sent + Refused + Lost + Buffered + InFlight, give or take the events moving at the moment of the read.</remarks>
    public HermesClientStatistics Statistics => new(
        _metrics.Tracked, _metrics.Sent, _metrics.Refused, _metrics.DroppedBufferFull, _metrics.DroppedClosed, _metrics.Lost,
        _buffer.Count, _sender.InFlight);

    /// <summary>
    /// Buffers one event for Hermes and returns at once. The payload, an object serialized to a JSON object now (with
    /// reflection: for trimmed or AOT apps use the overload that takes a <see cref="JsonTypeInfo{T}"/>), becomes the
    /// event's <c>payload</c>.
    /// </summary>
    /// <param name="type">One of Hermes's <c>EVENT_TYPES</c>, for example <c>song_played</c>.</param>
    /// <param name="userId">Who did it, 1–128 characters.</param>
    /// <param name="payload">Anything that serializes to a JSON object, or null for none.</param>
    /// <param name="timestamp">When it happened; now by default. Sent as Unix seconds.</param>
    /// <returns>The event's id, or null when it was dropped: the buffer was full, or the client has shut down.</returns>
    [RequiresUnreferencedCode("The payload is serialized with reflection. Use Track<TPayload>(type, userId, payload, JsonTypeInfo<TPayload>) in trimmed apps.")]
    [RequiresDynamicCode("The payload is serialized with reflection. Use Track<TPayload>(type, userId, payload, JsonTypeInfo<TPayload>) in native AOT apps.")]
    public Guid? Track(string type, string userId, object? payload = null, DateTimeOffset? timestamp = null) =>
        TrackCore(type, userId, payload, payloadType: null, reflect: payload is not null, timestamp);

    /// <summary>Buffers one event for Hermes and returns at once; the payload is serialized now with <paramref name="payloadType"/>.</summary>
    /// <param name="type">One of Hermes's <c>EVENT_TYPES</c>, for example <c>song_played</c>.</param>
    /// <param name="userId">Who did it, 1–128 characters.</param>
    /// <param name="payload">The payload; it must serialize to a JSON object.</param>
    /// <param name="payloadType">Its source-generated JSON contract, for example <c>MyJsonContext.Default.SongPlayed</c>.</param>
    /// <param name="timestamp">When it happened; now by default. Sent as Unix seconds.</param>
    /// <returns>The event's id, or null when it was dropped: the buffer was full, or the client has shut down.</returns>
    public Guid? Track<TPayload>(string type, string userId, TPayload payload, JsonTypeInfo<TPayload> payloadType, DateTimeOffset? timestamp = null)
    {
        ArgumentNullException.ThrowIfNull(payloadType);
        return TrackCore(type, userId, payload, payloadType, reflect: false, timestamp);
    }

    /// <summary>
    /// Sends everything buffered now, without waiting for <c>FlushInterval</c>, and completes once Hermes has answered
    /// it all (or the client has shut down). While Hermes is unreachable that is as long as the outage: pass a token.
    /// </summary>
    public Task FlushAsync(CancellationToken cancellationToken = default) => _sender.FlushAsync(cancellationToken);

    /// <summary>Delivers what is buffered, waiting up to <c>ShutdownTimeout</c>, then stops; later events are dropped.</summary>
    public async ValueTask DisposeAsync()
    {
        await ShutdownAsync(CancellationToken.None).ConfigureAwait(false);
        _metrics.Dispose();
    }

    /// <summary>Delivers what is buffered, blocking up to <c>ShutdownTimeout</c>, then stops. Prefer <see cref="DisposeAsync"/>.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>
    /// Closes the client to new events and delivers the buffer within <c>ShutdownTimeout</c> (or until
    /// <paramref name="cancellationToken"/>, the host's own deadline); returns how many events were lost.
    /// Idempotent: host shutdown and disposal share one run.
    /// </summary>
    internal Task<int> ShutdownAsync(CancellationToken cancellationToken)
    {
        lock (_shutdownLock)
        {
            Volatile.Write(ref _closed, 1);
            return _shutdown ??= RunShutdownAsync(cancellationToken);
        }
    }

    private async Task<int> RunShutdownAsync(CancellationToken cancellationToken)
    {
        var lost = await _sender.StopAsync(_settings.ShutdownTimeout, cancellationToken).ConfigureAwait(false);
        if (lost > 0)
        {
            Log.LostAtShutdown(_logger, lost, _settings.ShutdownTimeout);
        }

        return lost;
    }

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "reflect is true only from Track(object), which carries the requirement.")]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "reflect is true only from Track(object), which carries the requirement.")]
    private Guid? TrackCore(string type, string userId, object? payload, JsonTypeInfo? payloadType, bool reflect, DateTimeOffset? timestamp)
    {
        ArgumentException.ThrowIfNullOrEmpty(type);
        ArgumentException.ThrowIfNullOrEmpty(userId);
        if (Volatile.Read(ref _closed) != 0)
        {
            _metrics.OnDroppedClosed();
            return null;
        }

        // The slot first: a full buffer drops the event before any work is spent on it.
        if (!_buffer.TryReserve())
        {
            OnBufferFull();
            return null;
        }

        if (Volatile.Read(ref _bufferFullLogged) != 0)
        {
            Volatile.Write(ref _bufferFullLogged, 0);
        }

        // The id and the timestamp are fixed here, once: every retry of this event sends exactly these.
        var at = timestamp ?? _time.GetUtcNow();
        var id = UuidV7.Create(at);
        byte[] line;
        try
        {
            if (reflect)
            {
                payloadType = ReflectionJson.TypeInfoFor(payload!.GetType());
            }

            line = EventLine.Write(id, userId, type, at.ToUnixTimeSeconds(), payload, payloadType);
        }
        catch
        {
            _buffer.CancelReservation();
            throw;
        }

        _buffer.Enqueue(line);
        _metrics.OnTracked();
        return id;
    }

    private void OnBufferFull()
    {
        _metrics.OnDroppedBufferFull();
        _delivery.OnDropped();
        if (Interlocked.Exchange(ref _bufferFullLogged, 1) == 0)
        {
            Log.BufferFull(_logger, _buffer.Capacity);
        }
    }

    /// <summary>Reflection-based contracts for <c>Track(object)</c>, made only when that overload is used.</summary>
    private static class ReflectionJson
    {
        private static JsonSerializerOptions? s_options;

        [RequiresUnreferencedCode("Reflection-based serialization.")]
        [RequiresDynamicCode("Reflection-based serialization.")]
        public static JsonTypeInfo TypeInfoFor(Type type) => (s_options ??= CreateOptions()).GetTypeInfo(type);

        [RequiresUnreferencedCode("Reflection-based serialization.")]
        [RequiresDynamicCode("Reflection-based serialization.")]
        private static JsonSerializerOptions CreateOptions()
        {
            var options = new JsonSerializerOptions { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };
            options.MakeReadOnly();
            return options;
        }
    }
}

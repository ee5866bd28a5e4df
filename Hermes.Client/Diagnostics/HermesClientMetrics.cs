using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Hermes.Client.Buffering;

namespace Hermes.Client.Diagnostics;

/// <summary>
/// The client's counts, on the <c>Hermes.Client</c> meter. As in Hermes itself, hot-path counts are Interlocked longs
/// read by observable instruments at collection time: one atomic add per <c>Track</c> rather than a measurement
/// dispatched to every listener. <see cref="HermesClient.Statistics"/> reads the same longs. In Prometheus the
/// counters carry <c>_total</c> and the histogram <c>_seconds</c>.
/// </summary>
internal sealed class HermesClientMetrics : IDisposable
{
    public static readonly ActivitySource Source = new(HermesClientTelemetry.ActivitySourceName);

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Histogram<double> _sendDuration;
    private readonly ConcurrentDictionary<(string Field, string Rule), StrongBox<long>> _refused = new();
    private readonly ConcurrentDictionary<string, StrongBox<long>> _retries = new();
    private long _tracked;
    private long _sent;
    private long _refusedTotal;
    private long _droppedBufferFull;
    private long _droppedClosed;
    private long _lost;

    public HermesClientMetrics(IMeterFactory? meterFactory, EventBuffer buffer)
    {
        // Outside a host (no IMeterFactory) the meter is this instance's own, disposed with it.
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(HermesClientTelemetry.MeterName) ?? new Meter(HermesClientTelemetry.MeterName);
        _meter.CreateObservableCounter("hermes_client_events_tracked", () => Tracked, "{event}",
            "Events Track() put in the buffer.");
        _meter.CreateObservableCounter("hermes_client_events_sent", () => Sent, "{event}",
            "Events Hermes accepted (202, or 200 with ?ack=durable).");
        _meter.CreateObservableCounter("hermes_client_events_refused", ObserveRefused, "{event}",
            "Events Hermes refused with a 4xx, by the problem's field and rule; not retried.");
        _meter.CreateObservableCounter("hermes_client_events_dropped", ObserveDropped, "{event}",
            "Track() calls whose event was dropped: buffer_full (the buffer was full), closed (after shutdown began).");
        _meter.CreateObservableCounter("hermes_client_events_lost", () => Lost, "{event}",
            "Buffered events not delivered before the shutdown deadline.");
        _meter.CreateObservableCounter("hermes_client_retries", ObserveRetries, "{request}",
            "Requests retried, by reason: the status (503, 429, 502, 504, 408), timeout, transport or circuit_open.");
        _meter.CreateObservableGauge("hermes_client_buffer_length", () => buffer.Count, "{event}",
            "Events in the buffer, waiting to be sent.");
        _meter.CreateObservableGauge("hermes_client_buffer_capacity", () => buffer.Capacity, "{event}",
            "Hermes:Client:BufferCapacity.");
        _sendDuration = _meter.CreateHistogram("hermes_client_send_duration", "s",
            "From a batch's first attempt to Hermes's final answer, retries included, by outcome.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });
    }

    public long Tracked => Volatile.Read(ref _tracked);

    public long Sent => Volatile.Read(ref _sent);

    public long Refused => Volatile.Read(ref _refusedTotal);

    public long DroppedBufferFull => Volatile.Read(ref _droppedBufferFull);

    public long DroppedClosed => Volatile.Read(ref _droppedClosed);

    public long Lost => Volatile.Read(ref _lost);

    public void OnTracked() => Interlocked.Increment(ref _tracked);

    public long OnDroppedBufferFull() => Interlocked.Increment(ref _droppedBufferFull);

    public void OnDroppedClosed() => Interlocked.Increment(ref _droppedClosed);

    public void OnSent(int events) => Interlocked.Add(ref _sent, events);

    public void OnLost(int events) => Interlocked.Add(ref _lost, events);

    public void OnRefused(string field, string rule, int events)
    {
        Interlocked.Add(ref _refused.GetOrAdd((field, rule), static _ => new StrongBox<long>()).Value, events);
        Interlocked.Add(ref _refusedTotal, events);
    }

    public void OnRetry(string reason) => Interlocked.Increment(ref _retries.GetOrAdd(reason, static _ => new StrongBox<long>()).Value);

    public long Retries(string reason) => _retries.TryGetValue(reason, out var box) ? Volatile.Read(ref box.Value) : 0;

    public long RefusedFor(string field, string rule) => _refused.TryGetValue((field, rule), out var box) ? Volatile.Read(ref box.Value) : 0;

    public void OnSendFinished(TimeSpan elapsed, string outcome) =>
        _sendDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("outcome", outcome));

    public void Dispose()
    {
        // A factory's meter belongs to the factory (it caches it by name); only one made here is disposed here.
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private IEnumerable<Measurement<long>> ObserveRefused() =>
        _refused.Select(p => new Measurement<long>(Volatile.Read(ref p.Value.Value),
            new KeyValuePair<string, object?>("field", p.Key.Field), new KeyValuePair<string, object?>("rule", p.Key.Rule)));

    private IEnumerable<Measurement<long>> ObserveRetries() =>
        _retries.Select(p => new Measurement<long>(Volatile.Read(ref p.Value.Value), new KeyValuePair<string, object?>("reason", p.Key)));

    private IEnumerable<Measurement<long>> ObserveDropped() =>
    [
        new(DroppedBufferFull, new KeyValuePair<string, object?>("reason", "buffer_full")),
        new(DroppedClosed, new KeyValuePair<string, object?>("reason", "closed")),
    ];
}

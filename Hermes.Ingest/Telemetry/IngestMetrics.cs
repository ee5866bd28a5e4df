using System.Diagnostics.Metrics;

namespace Hermes.Ingest.Telemetry;

/// <summary>Why intake refused events; the <c>reason</c> label of <c>hermes_events_rejected_total</c>.</summary>
public enum RejectReason
{
    /// <summary>An event broke a validation rule (400, or an entry in a batch's <c>rejected</c> list).</summary>
    Invalid,

    /// <summary>The body was not well-formed JSON or NDJSON (400).</summary>
    Malformed,

    /// <summary>The body, its inflated size or its event count was over a limit (413).</summary>
    TooLarge,

    /// <summary>Content-Type or Content-Encoding not supported (415).</summary>
    UnsupportedMediaType,

    /// <summary>The queue had no room (503).</summary>
    QueueFull,

    /// <summary>Hermes was shutting down (503).</summary>
    ShuttingDown,

    /// <summary>No API key, or a wrong one, where one is required (401).</summary>
    Unauthorized,

    /// <summary>The producer key was over RATE_LIMIT_PER_KEY (429).</summary>
    RateLimited,
}

/// <summary>
/// Intake's and the workers' instruments, on the one <c>Hermes</c> meter that ServiceDefaults exports (Prometheus at
/// /metrics, OTLP). Hot-path counts are plain Interlocked longs read by observable instruments at scrape time: one
/// atomic add per request instead of a measurement dispatched to every listener. Tests read the same longs.
/// The gauges over a stage's own state live with the stage (<c>QueueInstruments</c>, <c>AggregateInstruments</c>,
/// the sinks' metrics), so this class depends on nothing else in Hermes and every stage can report to it.
/// </summary>
public sealed class IngestMetrics
{
    public static readonly string[] ReasonLabels = ["invalid", "malformed", "too_large", "unsupported_media_type", "queue_full", "shutting_down", "unauthorized", "rate_limited"];

    /// <summary>The Segment calls accepted and not stored; the <c>call</c> label of <c>hermes_segment_calls_ignored_total</c>.</summary>
    public static readonly string[] IgnoredSegmentCalls = ["identify", "page", "screen", "group", "alias"];

    private readonly long[] _rejected = new long[ReasonLabels.Length];
    private readonly long[] _segmentIgnored = new long[IgnoredSegmentCalls.Length];
    private readonly Histogram<int> _batchSize;
    private readonly Histogram<double> _flushDuration;
    // The last 512 flush durations (ticks), for the live view's p50/p99 without a histogram reader.
    private readonly long[] _recentFlushTicks = new long[512];
    private long _flushes;
    private long _accepted;
    private long _acceptedDurable;
    private long _storedNonDurable;
    private long _previousRunAtRisk;
    private long _flushed;
    private long _flushFailures;
    private int _busyWorkers;

    // Per producer key label (never the key): accepted events and rate-limited events. Labels are known at
    // startup, so the table is built once and read without locks.
    private readonly Dictionary<string, long[]> _perKey;

    /// <param name="meterFactory">Where the <c>Hermes</c> meter comes from.</param>
    /// <param name="keyLabels">The producer keys' labels (never the keys), known at startup.</param>
    public IngestMetrics(IMeterFactory meterFactory, IEnumerable<string> keyLabels)
    {
        var meter = meterFactory.Create(HermesTelemetry.MeterName);
        _perKey = keyLabels.Append(AnonymousKey).Distinct().ToDictionary(label => label, _ => new long[2]);
        meter.CreateObservableGauge("hermes_previous_run_at_risk_events", () => Volatile.Read(ref _previousRunAtRisk), "{event}",
            "Events the previous run answered 202 but had not stored when it died (0 after a clean stop).");
        meter.CreateObservableCounter("hermes_key_events_accepted", () => ObservePerKey(0), "{event}",
            "Events accepted per producer key label (\"anonymous\" without API keys).");
        meter.CreateObservableCounter("hermes_key_events_rate_limited", () => ObservePerKey(1), "{event}",
            "Events refused with 429 per producer key label.");

        meter.CreateObservableCounter("hermes_events_accepted", () => Accepted, "{event}",
            "Events answered 202/200 and queued.");
        meter.CreateObservableCounter("hermes_events_rejected", ObserveRejected, "{event}",
            "Events (or unreadable requests) refused, by reason.");
        meter.CreateObservableCounter("hermes_segment_calls_ignored", ObserveSegmentIgnored, "{call}",
            "Segment identify/page/screen/group/alias calls answered 200 and not stored (only track is an event).");
        meter.CreateObservableCounter("hermes_events_flushed", () => Flushed, "{event}",
            "Events delivered to the sink by workers.");
        meter.CreateObservableCounter("hermes_flush_failures", () => Volatile.Read(ref _flushFailures), "{batch}",
            "Batches the sink failed to write.");
        meter.CreateObservableGauge("hermes_workers_busy", () => Volatile.Read(ref _busyWorkers), "{worker}",
            "Workers currently writing a batch to the sink.");

        _batchSize = meter.CreateHistogram("hermes_batch_size", "{event}", "Events per flushed batch.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 10, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000] });
        _flushDuration = meter.CreateHistogram("hermes_flush_duration", "s", "Time to write one batch to the sink.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });
    }

    /// <summary>The label producers are counted under when no API keys are configured.</summary>
    public const string AnonymousKey = "anonymous";

    public long Accepted => Volatile.Read(ref _accepted);

    public void OnKeyAccepted(string label, int count) => Interlocked.Add(ref _perKey[label][0], count);

    public void OnKeyRateLimited(string label, int count) => Interlocked.Add(ref _perKey[label][1], count);

    public long KeyAccepted(string label) => Volatile.Read(ref _perKey[label][0]);

    public long KeyRateLimited(string label) => Volatile.Read(ref _perKey[label][1]);

    public long Flushed => Volatile.Read(ref _flushed);

    public long Rejected(RejectReason reason) => Volatile.Read(ref _rejected[(int)reason]);

    public void OnAccepted(int count) => Interlocked.Add(ref _accepted, count);

    /// <summary>Events accepted with <c>?ack=durable</c> (also counted by <see cref="OnAccepted"/>).</summary>
    public void OnAcceptedDurable(int count) => Interlocked.Add(ref _acceptedDurable, count);

    /// <summary>Events without a durable ack that the sink has stored.</summary>
    public void OnStoredNonDurable(int count) => Interlocked.Add(ref _storedNonDurable, count);

    /// <summary>Events answered 202 (accepted without <c>?ack=durable</c>).</summary>
    public long AcceptedNonDurable => Accepted - Volatile.Read(ref _acceptedDurable);

    public long StoredNonDurable => Volatile.Read(ref _storedNonDurable);

    public void SetPreviousRunAtRisk(long events) => Volatile.Write(ref _previousRunAtRisk, events);

    public void OnRejected(RejectReason reason, int count = 1) => Interlocked.Add(ref _rejected[(int)reason], count);

    /// <summary>Counts the ignored calls of one answered Segment request, by index in <see cref="IgnoredSegmentCalls"/>.</summary>
    public void OnSegmentIgnored(ReadOnlySpan<int> counts)
    {
        for (var i = 0; i < counts.Length; i++)
        {
            if (counts[i] > 0)
            {
                Interlocked.Add(ref _segmentIgnored[i], counts[i]);
            }
        }
    }

    public long SegmentIgnored(string call) => Volatile.Read(ref _segmentIgnored[Array.IndexOf(IgnoredSegmentCalls, call)]);

    public void OnFlushStarted() => Interlocked.Increment(ref _busyWorkers);

    public void OnFlushed(int count, TimeSpan duration, bool succeeded)
    {
        Interlocked.Decrement(ref _busyWorkers);
        if (succeeded)
        {
            Interlocked.Add(ref _flushed, count);
        }
        else
        {
            Interlocked.Increment(ref _flushFailures);
        }

        _batchSize.Record(count);
        _flushDuration.Record(duration.TotalSeconds);
        var slot = Interlocked.Increment(ref _flushes) - 1;
        Volatile.Write(ref _recentFlushTicks[slot & (_recentFlushTicks.Length - 1)], duration.Ticks);
    }

    /// <summary>Batches flushed since start.</summary>
    public long Flushes => Volatile.Read(ref _flushes);

    public int BusyWorkers => Volatile.Read(ref _busyWorkers);

    /// <summary>p50 and p99 of the most recent flushes (up to 512), or zeros before the first.</summary>
    public (TimeSpan P50, TimeSpan P99) RecentFlushLatency()
    {
        var count = (int)Math.Min(Flushes, _recentFlushTicks.Length);
        if (count == 0)
        {
            return (TimeSpan.Zero, TimeSpan.Zero);
        }

        var ticks = new long[count];
        for (var i = 0; i < count; i++)
        {
            ticks[i] = Volatile.Read(ref _recentFlushTicks[i]);
        }

        Array.Sort(ticks);
        return (TimeSpan.FromTicks(ticks[(count - 1) / 2]), TimeSpan.FromTicks(ticks[(int)Math.Ceiling(count * 0.99) - 1]));
    }

    private IEnumerable<Measurement<long>> ObservePerKey(int index)
    {
        foreach (var (label, counts) in _perKey)
        {
            yield return new Measurement<long>(Volatile.Read(ref counts[index]), new KeyValuePair<string, object?>("key", label));
        }
    }

    private IEnumerable<Measurement<long>> ObserveSegmentIgnored()
    {
        for (var i = 0; i < IgnoredSegmentCalls.Length; i++)
        {
            yield return new Measurement<long>(Volatile.Read(ref _segmentIgnored[i]), new KeyValuePair<string, object?>("call", IgnoredSegmentCalls[i]));
        }
    }

    private IEnumerable<Measurement<long>> ObserveRejected()
    {
        for (var i = 0; i < ReasonLabels.Length; i++)
        {
            yield return new Measurement<long>(Volatile.Read(ref _rejected[i]), new KeyValuePair<string, object?>("reason", ReasonLabels[i]));
        }
    }
}

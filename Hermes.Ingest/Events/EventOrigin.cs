using System.Diagnostics;
using Hermes.Ingest.Telemetry;

namespace Hermes.Ingest.Events;

/// <summary>
/// The request an event came from, for what must follow the event through the queue: the request's trace (so the
/// flush span, and the COPY under it, join the trace of the POST that carried the events), and a
/// <c>?ack=durable</c> promise that completes when every one of the request's events has been written by the sink
/// (committed, or fsynced to the spill) and fails if any was dropped. One object per request, shared by its events;
/// a request that is neither traced nor durable has none, so the default path allocates nothing for it.
/// </summary>
public sealed class EventOrigin(int events, bool durable, ActivityContext trace)
{
    private readonly TaskCompletionSource? _done = durable ? new(TaskCreationOptions.RunContinuationsAsynchronously) : null;
    private int _pending = events;

    /// <summary>The intake request's span context (default when it was not traced).</summary>
    public ActivityContext Trace { get; } = trace;

    /// <summary>The request waits for <see cref="Completion"/> before answering.</summary>
    public bool IsDurable => _done is not null;

    public Task Completion => _done?.Task ?? Task.CompletedTask;

    /// <summary>Some of this request's events were written durably.</summary>
    public void Written(int count)
    {
        if (_done is not null && Interlocked.Add(ref _pending, -count) == 0)
        {
            _done.TrySetResult();
        }
    }

    /// <summary>Some of this request's events could not be written; the request fails whatever happens to the rest.</summary>
    public void Failed(Exception reason) => _done?.TrySetException(reason);

    /// <summary>
    /// An origin for a request, or null when there is nothing to carry: not durable, and nobody listening for the flush
    /// span (ASP.NET starts a request Activity for log correlation even then, so Activity.Current alone is no signal).
    /// </summary>
    public static EventOrigin? For(int events, bool durable)
    {
        var trace = IngestTracing.Source.HasListeners() ? Activity.Current?.Context ?? default : default;
        return durable || trace != default ? new EventOrigin(events, durable, trace) : null;
    }
}

namespace Hermes.Ingest.Pipeline;

/// <summary>
/// One <c>?ack=durable</c> request's promise: completes when every one of its events has been written by the sink
/// (committed, or fsynced to the spill), fails if any of them was dropped. Events of ordinary requests carry no
/// ticket, so the default path pays one null check per event in the worker.
/// </summary>
public sealed class DurableAck(int events)
{
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _pending = events;

    public Task Completion => _done.Task;

    /// <summary>Some of this request's events were written durably.</summary>
    public void Written(int count)
    {
        if (Interlocked.Add(ref _pending, -count) == 0)
        {
            _done.TrySetResult();
        }
    }

    /// <summary>Some of this request's events could not be written; the request fails whatever happens to the rest.</summary>
    public void Failed(Exception reason) => _done.TrySetException(reason);
}

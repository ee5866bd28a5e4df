namespace Hermes.Ingest.Sinks.Durable;

/// <summary>
/// Thrown by a durable sink's <c>WriteAsync</c> when a batch could be neither committed nor spilled, so it is lost
/// (and counted in <c>hermes_spill_dropped_total</c>). A caller waiting on a durable acknowledgement must not say 200.
/// </summary>
public sealed class BatchDroppedException(int events, string reason)
    : Exception($"{events} events were dropped: {reason}.")
{
    public int Events { get; } = events;
}

using Hermes.Ingest.Events;

namespace Hermes.Ingest.Sinks;

/// <summary>
/// The embedded default when no database is configured: batches are counted and let go. Events still reach the
/// aggregator, so <c>GET /aggregates</c> works; nothing outlives the process.
/// </summary>
public sealed class MemorySink : IEventSink
{
    private long _events;

    public string Name => "memory";

    /// <summary>Events delivered since start.</summary>
    public long Events => Volatile.Read(ref _events);

    public ValueTask WriteAsync(ReadOnlyMemory<EventRecord> batch, CancellationToken cancellationToken)
    {
        Interlocked.Add(ref _events, batch.Length);
        return ValueTask.CompletedTask;
    }
}

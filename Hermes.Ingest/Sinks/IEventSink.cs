using Hermes.Contracts;
using Hermes.Ingest.Events;

namespace Hermes.Ingest.Sinks;

/// <summary>
/// Where workers deliver batches. A batch is a span of typed <see cref="EventRecord"/>s that a binary COPY can
/// stream column by column without parsing anything again.
/// </summary>
public interface IEventSink
{
    /// <summary>Short name for logs and metrics ("memory", "postgres").</summary>
    string Name { get; }

    /// <summary>
    /// Whether a completed <see cref="WriteAsync"/> means the batch survives a crash (committed or fsynced);
    /// <c>?ack=durable</c> is refused otherwise.
    /// </summary>
    bool IsDurable => false;

    /// <summary>
    /// Writes one batch. The memory behind <paramref name="batch"/> is the worker's and is reused once the returned
    /// task completes, so an implementation must not keep a reference to it.
    /// </summary>
    ValueTask WriteAsync(ReadOnlyMemory<EventRecord> batch, CancellationToken cancellationToken);

    /// <summary>Called once at shutdown after the last batch, to flush anything the sink buffers itself.</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>The sink's state for <c>/stats</c>, whatever the backend.</summary>
    SinkStats Describe() => new() { Name = Name, Durable = IsDurable };

    /// <summary>What the previous run answered 202 and did not store, when it did not stop cleanly and the sink keeps a crash ledger.</summary>
    PreviousRunStats? PreviousRun => null;
}

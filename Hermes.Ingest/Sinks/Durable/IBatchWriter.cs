using Hermes.Contracts;
using Hermes.Ingest.Events;

namespace Hermes.Ingest.Sinks.Durable;

/// <summary>How a failed write is taken: what the breaker counts, what is split and dead-lettered, what is retried.</summary>
public enum WriteFailure
{
    /// <summary>The destination could not be reached, or the connection broke: counts toward the breaker.</summary>
    Connectivity,

    /// <summary>The destination refused the rows themselves: the batch is split until they stand alone, then dead-lettered.</summary>
    Data,

    /// <summary>Two concurrent writes collided (a deadlock): nothing was written; tried again at once, up to 5 times.</summary>
    Conflict,

    /// <summary>Anything else (a missing table, a permission): the batch is spilled and retried; the breaker is untouched.</summary>
    Other,
}

/// <summary>Where a write comes from.</summary>
/// <param name="Slot">
/// This write's slot, from 0 to <see cref="IBatchWriter.MaxConcurrentWrites"/> − 1, unique among the writes running at
/// once: a writer may keep per-slot state without locks (PostgreSQL adds its counts to the slot's own rollup row).
/// </param>
/// <param name="Replaying">The batch comes back from the spill: part of it may have been written before its write failed.</param>
public readonly record struct WriteContext(short Slot, bool Replaying);

/// <summary>
/// A destination for batches, wrapped by <see cref="DurableSink"/>, which owns everything a destination should not
/// have to: the breaker, the per-write timeout (DB_WRITE_TIMEOUT), the disk spill and its replay, the crash ledger,
/// the bisection of a batch refused for its data, and dead-letter accounting. A new destination (Kafka, Event Hubs,
/// ClickHouse) is one class implementing this and its options; <c>Sinks/Postgres/PostgresBatchWriter</c> is the first.
/// </summary>
public interface IBatchWriter
{
    /// <summary>Short name for logs, metrics and <c>/stats</c> (<c>postgres</c>).</summary>
    string Name { get; }

    /// <summary>How many writes may run at once (PostgreSQL: MAX_OPEN_CONNS, its pool size).</summary>
    int MaxConcurrentWrites { get; }

    /// <summary>
    /// Makes the destination ready (PostgreSQL: creates or migrates the schema), at startup and before maintenance.
    /// False, logged, when it cannot be reached now; writes then spill until it can.
    /// </summary>
    Task<bool> TryPrepareAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Writes the whole batch or none of it, each event stored once: an event already stored (a retry, a replay) is
    /// skipped. Throws on failure; <see cref="Classify"/> says how the exception is taken.
    /// </summary>
    /// <returns>How many events were new (the others were stored already).</returns>
    Task<long> WriteAsync(ReadOnlyMemory<EventRecord> batch, IReadOnlyList<string> typeNames, WriteContext context, CancellationToken cancellationToken);

    /// <summary>How an exception thrown by <see cref="WriteAsync"/> or <see cref="DeadLetterAsync"/> is taken.</summary>
    WriteFailure Classify(Exception exception);

    /// <summary>
    /// Stores one event the destination refused for its data (<paramref name="error"/>, classified
    /// <see cref="WriteFailure.Data"/>) where an operator can find it. Throws a <see cref="WriteFailure.Data"/> error
    /// when it is refused too (the event is then dropped and counted); a destination without dead letters throws
    /// <see cref="NotSupportedException"/>, with the same result.
    /// </summary>
    Task DeadLetterAsync(EventRecord refused, IReadOnlyList<string> typeNames, Exception error, CancellationToken cancellationToken);

    /// <summary>The refusal in a few words for the log (PostgreSQL: SQLSTATE and message).</summary>
    string Describe(Exception error) => error.Message;

    /// <summary>What <c>/stats</c> shows of the destination's storage (PostgreSQL: partitions and retention), or null.</summary>
    StorageStats? Storage => null;
}

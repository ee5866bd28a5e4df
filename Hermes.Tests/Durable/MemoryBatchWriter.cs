using System.Collections.Concurrent;
using Hermes.Contracts;
using Hermes.Ingest.Events;
using Hermes.Ingest.Sinks.Durable;

namespace Hermes.Tests.Durable;

/// <summary>
/// The durable layer's second destination, next to PostgreSQL: a store in memory whose faults the test switches on.
/// While <see cref="Down"/>, every write fails as a connectivity error (a server that went away); an event whose
/// payload contains <see cref="PoisonMarker"/> is refused for its data (as PostgreSQL refuses a lone surrogate), and
/// its dead letter is kept beside the store. It keeps the interface's promises: a write stores the whole batch or
/// none of it, and an event already stored (same id and timestamp) is skipped, so replay never stores one twice.
/// The whole writer is what adding a destination takes; the breaker, spill, replay, ledger and bisection come with
/// <see cref="DurableSinkExtensions.AddDurableSink{TWriter}"/>.
/// </summary>
public sealed class MemoryBatchWriter : IBatchWriter
{
    public const string PoisonMarker = "poison";

    private readonly ConcurrentDictionary<(string Id, long Timestamp), byte> _stored = new();
    private readonly ConcurrentQueue<string> _storedIds = new();
    private readonly ConcurrentQueue<DeadLetter> _deadLetters = new();
    private readonly Lock _write = new();
    private volatile bool _down;

    public string Name => "memory-store";

    public int MaxConcurrentWrites => 4;

    /// <summary>The destination cannot be reached: writes and dead letters fail as connectivity errors.</summary>
    public bool Down
    {
        get => _down;
        set => _down = value;
    }

    /// <summary>Every event stored, in the order stored (each once).</summary>
    public IReadOnlyCollection<string> StoredIds => _storedIds;

    public IReadOnlyCollection<DeadLetter> DeadLetters => _deadLetters;

    public Task<bool> TryPrepareAsync(CancellationToken cancellationToken) => Task.FromResult(!Down);

    public Task<long> WriteAsync(ReadOnlyMemory<EventRecord> batch, IReadOnlyList<string> typeNames, WriteContext context, CancellationToken cancellationToken)
    {
        ThrowIfDown();
        foreach (var e in batch.Span)
        {
            if (e.Payload?.Contains(PoisonMarker, StringComparison.Ordinal) == true)
            {
                throw new RefusedException($"event {e.Id}: the payload holds \"{PoisonMarker}\"");
            }
        }

        // All or nothing: checked above before anything is stored, and stored under one lock.
        long inserted = 0;
        lock (_write)
        {
            foreach (var e in batch.Span)
            {
                if (_stored.TryAdd((e.Id, e.Timestamp), 0))
                {
                    _storedIds.Enqueue(e.Id);
                    inserted++;
                }
            }
        }

        return Task.FromResult(inserted);
    }

    public WriteFailure Classify(Exception exception) => exception switch
    {
        UnreachableException => WriteFailure.Connectivity,
        RefusedException => WriteFailure.Data,
        _ => WriteFailure.Other,
    };

    public Task DeadLetterAsync(EventRecord refused, IReadOnlyList<string> typeNames, Exception error, CancellationToken cancellationToken)
    {
        ThrowIfDown();
        _deadLetters.Enqueue(new(refused.Id, refused.Payload, error.Message));
        return Task.CompletedTask;
    }

    /// <summary>No storage of its own to describe in <c>/stats</c>.</summary>
    public StorageStats? Storage => null;

    private void ThrowIfDown()
    {
        if (Down)
        {
            throw new UnreachableException("the memory store is down (injected)");
        }
    }

    /// <summary>The store could not be reached.</summary>
    public sealed class UnreachableException(string message) : IOException(message);

    /// <summary>The store refused an event for its data.</summary>
    public sealed class RefusedException(string message) : InvalidOperationException(message);
}

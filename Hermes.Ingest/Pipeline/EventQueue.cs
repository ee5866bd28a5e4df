using System.Collections.Concurrent;
using System.Diagnostics;
using Hermes.Ingest.Events;

namespace Hermes.Ingest.Pipeline;

/// <summary>
/// The bounded queue between intake and the workers: at most <c>QUEUE_SIZE</c> events, counted in events.
/// <para>
/// Room is reserved before anything is written (<see cref="TryReserve"/>), so a batch request either gets room for
/// all its valid events or for none, and a 503 leaves nothing half-queued. Storage is a
/// <see cref="ConcurrentQueue{T}"/> of structs; the bound lives in one counter beside it rather than in a bounded
/// Channel, whose .NET 10 implementation has reported lost-item and missed-wakeup bugs (dotnet/runtime #132094,
/// #131141). The stress tests check written == read.
/// </para>
/// </summary>
public sealed class EventQueue
{
    private readonly ConcurrentQueue<EventRecord> _items = new();

    // Workers that found the queue empty and sleep on _itemsAvailable; producers only signal when this is > 0,
    // so the hot path pays one volatile read, not a semaphore release per event.
    private readonly SemaphoreSlim _itemsAvailable = new(0);
    private int _sleepingWorkers;

    // Producers in block mode wait on this; workers complete it when they free room.
    private TaskCompletionSource _spaceFreed = NewSignal();
    private int _spaceWaiters;

    private long _reserved;
    private long _dequeued;

    public EventQueue(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    public int Capacity { get; }

    /// <summary>Events reserved or queued and not yet taken by a worker.</summary>
    public long Length => Volatile.Read(ref _reserved);

    /// <summary>Events taken by workers since start; the drain rate is its derivative.</summary>
    public long DequeuedTotal => Volatile.Read(ref _dequeued);

    public bool IsEmpty => Volatile.Read(ref _reserved) == 0;

    /// <summary>Reserves room for <paramref name="count"/> events, all or nothing.</summary>
    public bool TryReserve(int count)
    {
        Debug.Assert(count > 0);
        var current = Volatile.Read(ref _reserved);
        while (true)
        {
            if (current + count > Capacity)
            {
                return false;
            }

            var seen = Interlocked.CompareExchange(ref _reserved, current + count, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }
    }

    /// <summary>Gives back room reserved but not used (for example when the client went away mid-request).</summary>
    public void Release(int count)
    {
        Interlocked.Add(ref _reserved, -count);
        NotifySpace();
    }

    /// <summary>Waits until room for <paramref name="count"/> events is reserved, or the timeout passes.</summary>
    public async ValueTask<bool> ReserveAsync(int count, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        if (TryReserve(count))
        {
            return true;
        }

        var deadline = time.GetTimestamp() + (long)(timeout.TotalSeconds * time.TimestampFrequency);
        Interlocked.Increment(ref _spaceWaiters);
        try
        {
            while (true)
            {
                var signal = Volatile.Read(ref _spaceFreed).Task;
                if (TryReserve(count))
                {
                    return true;
                }

                var remaining = time.GetElapsedTime(time.GetTimestamp(), deadline);
                if (remaining <= TimeSpan.Zero)
                {
                    return false;
                }

                try
                {
                    await signal.WaitAsync(remaining, time, cancellationToken);
                }
                catch (TimeoutException)
                {
                    return TryReserve(count);
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref _spaceWaiters);
        }
    }

    /// <summary>Writes one event into room already reserved with <see cref="TryReserve"/>.</summary>
    public void Enqueue(in EventRecord item)
    {
        _items.Enqueue(item);
        if (Volatile.Read(ref _sleepingWorkers) > 0)
        {
            WakeWorker();
        }
    }

    /// <summary>Writes events into room already reserved for all of them.</summary>
    public void Enqueue(ReadOnlySpan<EventRecord> items)
    {
        foreach (ref readonly var item in items)
        {
            _items.Enqueue(item);
        }

        if (Volatile.Read(ref _sleepingWorkers) > 0)
        {
            WakeWorker();
        }
    }

    public bool TryDequeue(out EventRecord item)
    {
        if (!_items.TryDequeue(out item))
        {
            return false;
        }

        Interlocked.Decrement(ref _reserved);
        Interlocked.Increment(ref _dequeued);
        return true;
    }

    /// <summary>The oldest queued event, to report how long events wait.</summary>
    public bool TryPeek(out EventRecord item) => _items.TryPeek(out item);

    /// <summary>Called by workers after taking events: completes block-mode waiters if there are any.</summary>
    public void NotifySpace()
    {
        if (Volatile.Read(ref _spaceWaiters) == 0)
        {
            return;
        }

        var previous = Interlocked.Exchange(ref _spaceFreed, NewSignal());
        previous.TrySetResult();
    }

    /// <summary>Sleeps until an event may be available or the timeout passes. Returns at once if one already is.</summary>
    public async ValueTask WaitForItemsAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _sleepingWorkers);
        try
        {
            // Re-check after announcing ourselves: a producer that enqueued before it could see us has left an item.
            if (!_items.IsEmpty)
            {
                return;
            }

            await _itemsAvailable.WaitAsync(timeout, cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _sleepingWorkers);
        }
    }

    /// <summary>Wakes every sleeping worker, for shutdown.</summary>
    public void WakeAll()
    {
        var sleeping = Volatile.Read(ref _sleepingWorkers);
        if (sleeping > 0)
        {
            _itemsAvailable.Release(sleeping);
        }
    }

    private void WakeWorker()
    {
        // Bounded so a burst of producers cannot pile up thousands of stale wake-ups.
        if (_itemsAvailable.CurrentCount < Volatile.Read(ref _sleepingWorkers))
        {
            _itemsAvailable.Release();
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

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
/// <para>
/// Workers are woken only when the queue turns non-empty or gains another full batch, not per event: at 50k
/// single-event requests/s, a wake-up per event cost more CPU than parsing the event (measured: 0.44× the bare
/// baseline's requests/s pinned to one core, before this change).
/// </para>
/// </summary>
public sealed class EventQueue
{
    private readonly ConcurrentQueue<EventRecord> _items = new();

    private readonly SemaphoreSlim _workAvailable = new(0);
    private readonly int _wakeEvery;
    private readonly int _maxPendingWakeups;

    // Producers in block mode wait on this; workers complete it when they free room.
    private TaskCompletionSource _spaceFreed = NewSignal();
    private int _spaceWaiters;

    private long _reserved;
    private long _queued;
    private long _dequeued;

    private readonly TimeProvider _time;
    private readonly long _epoch;

    // When the events now at the head of the queue started waiting, in ms on the monotonic clock (NowMs): set when
    // the queue turns non-empty, and after each dequeue to the last taken event's QueuedAtMs (FIFO: everything left
    // was queued at or after it). Monotonic, so a wall-clock step neither stalls nor hurries a partial batch. Kept
    // here because ConcurrentQueue.TryPeek marks segments "preserved", so dequeued slots are never cleared and
    // flushed events stay reachable (measured: 35.7 MiB retained instead of 1.8 MiB after one peek).
    private long _headSinceMs;

    // Set by a ?ack=durable request: the head is due now, whatever its age. Cleared by the next dequeue.
    private bool _expedited;

    /// <param name="capacity">QUEUE_SIZE.</param>
    /// <param name="wakeEvery">BATCH_SIZE: a worker is woken each time this many more events are queued.</param>
    /// <param name="workers">WORKER_COUNT: bounds the wake-ups that can pile up while every worker is busy.</param>
    /// <param name="time">The clock for the head's age and the workers' waits (monotonic timestamps only).</param>
    public EventQueue(int capacity, int wakeEvery = 1, int workers = 1, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(wakeEvery, 1);
        Capacity = capacity;
        _wakeEvery = wakeEvery;
        _maxPendingWakeups = Math.Max(1, workers);
        _time = time ?? TimeProvider.System;
        _epoch = _time.GetTimestamp();
    }

    public int Capacity { get; }

    /// <summary>Events reserved or queued and not yet taken by a worker.</summary>
    public long Length => Volatile.Read(ref _reserved);

    /// <summary>Events written and not yet taken (without reservations still being filled).</summary>
    public long Queued => Volatile.Read(ref _queued);

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
        var now = NowMs();
        _items.Enqueue(item with { QueuedAtMs = unchecked((int)now) });
        Published(1, now);
    }

    /// <summary>Writes events into room already reserved for all of them.</summary>
    public void Enqueue(ReadOnlySpan<EventRecord> items)
    {
        if (items.IsEmpty)
        {
            return;
        }

        var now = NowMs();
        foreach (ref readonly var item in items)
        {
            _items.Enqueue(item with { QueuedAtMs = unchecked((int)now) });
        }

        Published(items.Length, now);
    }

    /// <summary>
    /// Makes the events now queued due at once and wakes a worker: a <c>?ack=durable</c> producer is waiting, and
    /// sitting out FLUSH_INTERVAL would only add latency to its answer.
    /// </summary>
    public void Expedite()
    {
        Volatile.Write(ref _expedited, true);
        if (_workAvailable.CurrentCount < _maxPendingWakeups)
        {
            _workAvailable.Release();
        }
    }

    /// <summary>Takes up to <paramref name="into"/>.Length events; frees their room and wakes block-mode waiters.</summary>
    public int Dequeue(Span<EventRecord> into)
    {
        var taken = 0;
        while (taken < into.Length && _items.TryDequeue(out into[taken]))
        {
            taken++;
        }

        if (taken > 0)
        {
            Volatile.Write(ref _expedited, false);
            var now = NowMs();
            Volatile.Write(ref _headSinceMs, now - unchecked((int)now - into[taken - 1].QueuedAtMs));
            Interlocked.Add(ref _queued, -taken);
            Interlocked.Add(ref _dequeued, taken);
            Interlocked.Add(ref _reserved, -taken);
            NotifySpace();
        }

        return taken;
    }

    /// <summary>A durable-ack producer is waiting: flush what is queued without waiting for FLUSH_INTERVAL.</summary>
    public bool IsExpedited => Volatile.Read(ref _expedited);

    /// <summary>
    /// How long the events at the head of the queue have waited, or null when it is empty: a partial batch is due
    /// once this reaches FLUSH_INTERVAL. Never less than the oldest queued event's wait.
    /// </summary>
    public TimeSpan? HeadAge => Volatile.Read(ref _queued) > 0
        ? TimeSpan.FromMilliseconds(Math.Max(0, NowMs() - Volatile.Read(ref _headSinceMs)))
        : null;

    /// <summary>
    /// Sleeps until the queue turns non-empty or gains a full batch, or the timeout passes on the queue's
    /// <see cref="TimeProvider"/>. A wake-up can be spurious; callers re-check <see cref="Queued"/>.
    /// </summary>
    /// <returns>True when woken, false when the timeout passed.</returns>
    public async Task<bool> WaitForWorkAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_workAvailable.Wait(0, CancellationToken.None))
        {
            return true;
        }

        if (timeout == Timeout.InfiniteTimeSpan)
        {
            await _workAvailable.WaitAsync(cancellationToken);
            return true;
        }

        if (timeout <= TimeSpan.Zero)
        {
            return false;
        }

        // A cancelled wait leaves the semaphore, so a wake-up released afterwards is not lost to it (as it would be
        // to a wait abandoned by Task.WhenAny). SuppressThrowing: a timeout is the normal end of a wait, not an error.
        using var timer = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        var wait = _workAvailable.WaitAsync(linked.Token);
        await wait.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        cancellationToken.ThrowIfCancellationRequested();
        return wait.IsCompletedSuccessfully;
    }

    /// <summary>Wakes every worker, for shutdown.</summary>
    public void WakeAll() => _workAvailable.Release(_maxPendingWakeups);

    private void Published(int count, long queuedAtMs)
    {
        // Stamp the head before the count makes it visible: a worker that sees Queued > 0 must not read the
        // previous head's (older) time and flush a partial batch early.
        if (Volatile.Read(ref _queued) <= 0)
        {
            Volatile.Write(ref _headSinceMs, queuedAtMs);
        }

        var after = Interlocked.Add(ref _queued, count);
        var before = after - count;

        // Wake a worker when the queue turns non-empty (someone must start the flush-interval clock) or another
        // full batch is waiting. Anything in between waits for a worker's deadline or the next batch boundary.
        if ((before <= 0 && after > 0) || (before / _wakeEvery) < (after / _wakeEvery))
        {
            if (_workAvailable.CurrentCount < _maxPendingWakeups)
            {
                _workAvailable.Release();
            }
        }
    }

    private void NotifySpace()
    {
        if (Volatile.Read(ref _spaceWaiters) == 0)
        {
            return;
        }

        var previous = Interlocked.Exchange(ref _spaceFreed, NewSignal());
        previous.TrySetResult();
    }

    /// <summary>Milliseconds since this queue was created, on the TimeProvider's monotonic timestamp.</summary>
    private long NowMs() => (long)_time.GetElapsedTime(_epoch).TotalMilliseconds;

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

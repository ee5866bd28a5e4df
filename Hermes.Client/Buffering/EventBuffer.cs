using System.Collections.Concurrent;
using System.Diagnostics;

namespace Hermes.Client.Buffering;

/// <summary>
/// The client's bounded buffer of ready-to-send NDJSON lines. <c>Track</c> reserves a slot first (one
/// compare-and-swap) and, when there is none, drops the new event without serializing it, so a full buffer costs the
/// caller a few nanoseconds and never blocks or grows. One reader (the sender loop) takes batches.
/// A <see cref="ConcurrentQueue{T}"/> with the bound in a counter beside it, as Hermes's own EventQueue, rather than
/// a bounded Channel: .NET 10's has reported lost items and missed wake-ups (dotnet/runtime #132094, #131141).
/// </summary>
internal sealed class EventBuffer(int capacity, int batchEvents)
{
    private readonly ConcurrentQueue<byte[]> _lines = new();
    // Unbounded count so a Release never throws; a spare count only costs the reader one extra look.
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private int _count;          // reserved + queued, never above capacity
    private int _wakeRequested;
    private byte[]? _carry;      // the line that did not fit the last batch's byte limit (reader only)

    public int Capacity => capacity;

    /// <summary>Events reserved or waiting, not yet taken by the sender.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Takes a slot for one event, or returns false when the buffer is full.</summary>
    public bool TryReserve()
    {
        var count = Volatile.Read(ref _count);
        while (count < capacity)
        {
            var seen = Interlocked.CompareExchange(ref _count, count + 1, count);
            if (seen == count)
            {
                // Exactly one caller sees each count, so a full batch wakes the reader once.
                if (count + 1 == batchEvents)
                {
                    Wake();
                }

                return true;
            }

            count = seen;
        }

        return false;
    }

    /// <summary>Gives back a slot whose event could not be written (its payload failed to serialize).</summary>
    public void CancelReservation() => Interlocked.Decrement(ref _count);

    public void Enqueue(byte[] line) => _lines.Enqueue(line);

    /// <summary>Wakes the reader: a batch is full, a flush was asked for, or a send finished.</summary>
    public void Wake()
    {
        if (Interlocked.Exchange(ref _wakeRequested, 1) == 0)
        {
            _wake.Release();
        }
    }

    /// <summary>Waits until woken or <paramref name="timeout"/> passes.</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        await _wake.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _wakeRequested, 0);
    }

    /// <summary>
    /// Moves up to <paramref name="maxEvents"/> lines, and at most <paramref name="maxBytes"/> of them (always at
    /// least one), into <paramref name="batch"/>. Reader only. Never peeks: <c>TryPeek</c> keeps a segment's taken
    /// slots reachable (Hermes measured 35.7 MiB held against 1.8 MiB), so a line that does not fit is carried over.
    /// </summary>
    public void TakeBatch(List<byte[]> batch, int maxEvents, int maxBytes)
    {
        Debug.Assert(batch.Count == 0);
        var bytes = 0;
        while (batch.Count < maxEvents)
        {
            var line = _carry;
            _carry = null;
            if (line is null && !_lines.TryDequeue(out line))
            {
                break;
            }

            if (batch.Count > 0 && bytes + line.Length > maxBytes)
            {
                _carry = line;
                break;
            }

            batch.Add(line);
            bytes += line.Length;
        }

        Interlocked.Add(ref _count, -batch.Count);
    }

    /// <summary>Empties the buffer (at shutdown, past the deadline) and returns how many events it held.</summary>
    public int DrainAll()
    {
        var drained = 0;
        if (_carry is not null)
        {
            _carry = null;
            drained++;
        }

        while (_lines.TryDequeue(out _))
        {
            drained++;
        }

        Interlocked.Add(ref _count, -drained);
        return drained;
    }
}

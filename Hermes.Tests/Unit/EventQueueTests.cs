using Hermes.Ingest.Events;
using Hermes.Ingest.Pipeline;

namespace Hermes.Tests.Unit;

public sealed class EventQueueTests
{
    private static EventRecord Event(long n) => new($"e-{n}", "u", 0, n, null, 0);

    [Fact]
    public void Reservation_is_all_or_nothing_at_the_capacity()
    {
        var queue = new EventQueue(10);

        Assert.True(queue.TryReserve(7));
        Assert.False(queue.TryReserve(4));
        Assert.True(queue.TryReserve(3));
        Assert.False(queue.TryReserve(1));
        Assert.Equal(10, queue.Length);
    }

    [Fact]
    public void Dequeue_frees_room()
    {
        var queue = new EventQueue(2);
        Assert.True(queue.TryReserve(2));
        queue.Enqueue(Event(1));
        queue.Enqueue(Event(2));

        Assert.True(queue.TryDequeue(out var first));

        Assert.Equal("e-1", first.Id);
        Assert.True(queue.TryReserve(1));
        Assert.False(queue.TryReserve(1));
    }

    /// <summary>
    /// 4 producers × 250,000 events through a queue of 1,000 into 8 consumers that sleep when it is empty:
    /// every event written is read exactly once, and no consumer is left asleep with events queued.
    /// </summary>
    [Fact]
    public async Task Stress_every_event_written_is_read_exactly_once()
    {
        const int Producers = 4, PerProducer = 250_000, Consumers = 8;
        var queue = new EventQueue(1_000);
        var seen = new int[Producers * PerProducer];
        var read = 0L;
        using var done = new CancellationTokenSource();

        var consumers = Enumerable.Range(0, Consumers).Select(_ => Task.Run(async () =>
        {
            while (true)
            {
                while (queue.TryDequeue(out var e))
                {
                    Interlocked.Increment(ref seen[e.Timestamp]);
                    Interlocked.Increment(ref read);
                }

                queue.NotifySpace();
                if (done.IsCancellationRequested && queue.IsEmpty)
                {
                    return;
                }

                try
                {
                    await queue.WaitForItemsAsync(Timeout.InfiniteTimeSpan, done.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        })).ToArray();

        var producers = Enumerable.Range(0, Producers).Select(p => Task.Run(async () =>
        {
            var batch = new EventRecord[10];
            for (var i = 0; i < PerProducer;)
            {
                var n = Math.Min(1 + (i % 10), PerProducer - i);
                if (!await queue.ReserveAsync(n, TimeSpan.FromSeconds(30), TimeProvider.System, CancellationToken.None))
                {
                    throw new TimeoutException("no room for 30 s: consumers stalled");
                }

                for (var j = 0; j < n; j++)
                {
                    batch[j] = Event(((long)p * PerProducer) + i + j);
                }

                queue.Enqueue(batch.AsSpan(0, n));
                i += n;
            }
        })).ToArray();

        await Task.WhenAll(producers).WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        // Every consumer must drain what is left on its own wake-ups before being told to stop.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Interlocked.Read(ref read) < seen.Length && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        Assert.Equal(seen.Length, Interlocked.Read(ref read));
        await done.CancelAsync();
        queue.WakeAll();
        await Task.WhenAll(consumers).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        Assert.All(seen, count => Assert.Equal(1, count));
        Assert.Equal(0, queue.Length);
        Assert.Equal(seen.Length, queue.DequeuedTotal);
    }

    [Fact]
    public async Task Waiting_producer_gets_room_when_a_consumer_frees_it()
    {
        var queue = new EventQueue(1);
        Assert.True(queue.TryReserve(1));
        queue.Enqueue(Event(1));

        var waiting = queue.ReserveAsync(1, TimeSpan.FromSeconds(10), TimeProvider.System, CancellationToken.None).AsTask();
        await Task.Delay(100, TestContext.Current.CancellationToken);
        Assert.False(waiting.IsCompleted);

        Assert.True(queue.TryDequeue(out _));
        queue.NotifySpace();

        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Waiting_producer_gives_up_after_the_timeout()
    {
        var queue = new EventQueue(1);
        Assert.True(queue.TryReserve(1));

        var reserved = await queue.ReserveAsync(1, TimeSpan.FromMilliseconds(100), TimeProvider.System, CancellationToken.None);

        Assert.False(reserved);
        Assert.Equal(1, queue.Length);
    }
}

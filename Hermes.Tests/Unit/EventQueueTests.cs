using Hermes.Ingest.Events;
using Hermes.Ingest.Pipeline;

namespace Hermes.Tests.Unit;

public sealed class EventQueueTests
{
    private static EventRecord Event(long n) => new($"e-{n}", "u", 0, n, null, 0);

    [Fact]
    public void The_monotonic_queue_stamp_fits_in_the_event_struct_padding()
    {
        // ENGINEERING §9.1 counts 56 B per queued event slot's item; a long stamp would make it 64.
        Assert.Equal(56, System.Runtime.CompilerServices.Unsafe.SizeOf<EventRecord>());
    }

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

        var taken = new EventRecord[1];
        Assert.Equal(1, queue.Dequeue(taken));

        Assert.Equal("e-1", taken[0].Id);
        Assert.True(queue.TryReserve(1));
        Assert.False(queue.TryReserve(1));
    }

    /// <summary>
    /// 4 producers × 250,000 events through a queue of 1,000 into 8 consumers that sleep between wake-ups:
    /// every event written is read exactly once, and wake-ups keep full batches flowing.
    /// </summary>
    [Fact]
    public async Task Stress_every_event_written_is_read_exactly_once()
    {
        const int Producers = 4, PerProducer = 250_000, Consumers = 8;
        var queue = new EventQueue(1_000, wakeEvery: 64, workers: Consumers);
        var seen = new int[Producers * PerProducer];
        var read = 0L;
        using var done = new CancellationTokenSource();

        var consumers = Enumerable.Range(0, Consumers).Select(_ => Task.Run(async () =>
        {
            var buffer = new EventRecord[64];
            while (true)
            {
                // Like a worker: take only full batches unless the producers have finished.
                int taken;
                while ((queue.Queued >= buffer.Length || done.IsCancellationRequested) && (taken = queue.Dequeue(buffer)) > 0)
                {
                    foreach (var e in buffer.AsSpan(0, taken))
                    {
                        Interlocked.Increment(ref seen[e.Timestamp]);
                    }

                    Interlocked.Add(ref read, taken);
                }

                if (done.IsCancellationRequested && queue.Queued <= 0)
                {
                    return;
                }

                try
                {
                    await queue.WaitForWorkAsync(TimeSpan.FromMilliseconds(50), done.Token);
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

        // Full batches flowed on wake-ups alone; the last partial batch is taken once producers are done.
        Assert.True(Interlocked.Read(ref read) >= seen.Length - 1_000, $"only {read} read while producing");
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

        Assert.Equal(1, queue.Dequeue(new EventRecord[1]));

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

    [Fact]
    public async Task A_worker_is_woken_when_the_queue_turns_non_empty_and_at_each_full_batch_only()
    {
        var queue = new EventQueue(100, wakeEvery: 10, workers: 4);

        Assert.False(await queue.WaitForWorkAsync(TimeSpan.Zero, CancellationToken.None));
        Assert.True(queue.TryReserve(25));
        queue.Enqueue(Event(1));                                   // empty → non-empty: wake
        Assert.True(await queue.WaitForWorkAsync(TimeSpan.Zero, CancellationToken.None));
        for (var i = 2; i <= 9; i++)
        {
            queue.Enqueue(Event(i));                               // 2..9: no wake
        }

        Assert.False(await queue.WaitForWorkAsync(TimeSpan.Zero, CancellationToken.None));
        queue.Enqueue(Event(10));                                  // 10th: a full batch is waiting
        Assert.True(await queue.WaitForWorkAsync(TimeSpan.Zero, CancellationToken.None));
        queue.Enqueue(new EventRecord[15]);                        // 25: crosses 20
        Assert.True(await queue.WaitForWorkAsync(TimeSpan.Zero, CancellationToken.None));
        Assert.False(await queue.WaitForWorkAsync(TimeSpan.Zero, CancellationToken.None));
    }
}

using System.Net;
using Hermes.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Hermes.Tests.Integration;

public sealed class FlushTests
{
    [Fact]
    public async Task Worker_flushes_as_soon_as_a_full_batch_is_buffered()
    {
        var sink = new RecordingSink();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var hermes = new HermesFactory(new() { ["WORKER_COUNT"] = "1", ["BATCH_SIZE"] = "10", ["FLUSH_INTERVAL"] = "1h" })
            .WithSink(sink)
            .WithClock(clock);
        var client = hermes.Start();

        var response = await client.PostAsync("/events/batch", Events.Array(Enumerable.Range(0, 25).Select(i => Events.Json($"s-{i}"))), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

        // The clock never moves: only size can trigger these flushes.
        await Events.Eventually(() => Task.FromResult(sink.Events.Count), c => c == 20);
        await Task.Delay(200, TestContext.Current.CancellationToken);
        Assert.Equal([10, 10], sink.BatchSizes);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]      // the wall clock steps back an hour (NTP, an operator); monotonic time goes on
    public async Task Worker_flushes_a_partial_batch_when_the_flush_interval_passes(int wallClockStepHours)
    {
        var sink = new RecordingSink();
        var clock = new SteppingClock(DateTimeOffset.UtcNow);
        await using var hermes = new HermesFactory(new() { ["WORKER_COUNT"] = "1", ["BATCH_SIZE"] = "1000", ["FLUSH_INTERVAL"] = "5s" })
            .WithSink(sink)
            .WithClock(clock);
        var client = hermes.Start();

        for (var i = 0; i < 3; i++)
        {
            var timestamp = clock.GetUtcNow().ToUnixTimeSeconds();
            var response = await client.PostAsync("/events", Events.Body(Events.Json($"p-{i}", timestamp: timestamp)), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        var monotonic = clock.GetTimestamp();
        clock.StepWallClock(TimeSpan.FromHours(wallClockStepHours));
        Assert.Equal(monotonic, clock.GetTimestamp());

        await Task.Delay(400, TestContext.Current.CancellationToken);
        Assert.Empty(sink.Events);

        clock.Advance(TimeSpan.FromSeconds(4));
        await Task.Delay(300, TestContext.Current.CancellationToken);
        Assert.Empty(sink.Events);

        // FLUSH_INTERVAL has passed on the monotonic clock: the batch goes now, whatever the wall clock did.
        clock.Advance(TimeSpan.FromSeconds(1));
        await Events.Eventually(() => Task.FromResult(sink.Events.Count), c => c == 3);
        Assert.Equal([3], sink.BatchSizes);
    }
}

using Hermes.Ingest.Configuration;
using Hermes.Ingest.Events;
using Hermes.Ingest.Pipeline;
using Microsoft.Extensions.Time.Testing;

namespace Hermes.Tests.Unit;

/// <summary>Retry-After from the drain rate, and what it says when there is no rate to go by.</summary>
public sealed class RetryAfterEstimatorTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly EventQueue _queue;
    private readonly RetryAfterEstimator _estimator;

    public RetryAfterEstimatorTests()
    {
        _queue = new EventQueue(1000, time: _time);
        _estimator = new RetryAfterEstimator(_queue, _time, new IngestOptions { FlushInterval = TimeSpan.FromMilliseconds(100) });
    }

    private void Fill(int count)
    {
        Assert.True(_queue.TryReserve(count));
        for (var i = 0; i < count; i++)
        {
            _queue.Enqueue(new EventRecord($"e-{i}", "u", 0, 0, null, 0));
        }
    }

    private void Drain(int count) => Assert.Equal(count, _queue.Dequeue(new EventRecord[count]));

    [Fact]
    public void A_burst_into_a_cold_queue_whose_head_is_not_yet_due_is_told_1_second()
    {
        _time.Advance(TimeSpan.FromSeconds(3)); // started a while ago, nothing taken since
        Fill(1000);
        _time.Advance(TimeSpan.FromMilliseconds(20));

        Assert.Equal(1, _estimator.Seconds());
    }

    [Fact]
    public void A_queue_nobody_takes_from_is_told_30_seconds()
    {
        Fill(1000);
        _time.Advance(TimeSpan.FromSeconds(2)); // the head is long overdue: the workers are stuck

        Assert.Equal(30, _estimator.Seconds());
    }

    [Fact]
    public void A_measured_drain_rate_gives_the_backlogs_seconds()
    {
        Fill(1000);
        _time.Advance(TimeSpan.FromSeconds(2));
        Drain(500);
        Fill(500); // 1,000 queued, drained at 250/s over the last 2 s

        Assert.Equal(4, _estimator.Seconds());
    }

    [Fact]
    public void An_idle_window_longer_than_5_seconds_is_no_measure_of_the_drain_rate()
    {
        Fill(10);
        Drain(10);
        _time.Advance(TimeSpan.FromMinutes(1)); // 10 events in a minute: 0.17/s, which would say 30 s
        Fill(1000);

        Assert.Equal(1, _estimator.Seconds());
    }
}

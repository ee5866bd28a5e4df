using Hermes.Ingest.Configuration;
using Hermes.Ingest.Events;
using Hermes.Ingest.Pipeline;
using Microsoft.Extensions.Time.Testing;

namespace Hermes.Tests.Unit;

/// <summary>
/// Retry-After is the backlog over the drain rate measured over the last second or more (at most 5 s), rounded up and
/// clamped to [1, 30] s; without a rate, 1 s for a queue about to move and 30 s for a stuck one.
/// </summary>
public sealed class RetryAfterEstimatorTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly EventQueue _queue;
    private readonly RetryAfterEstimator _estimator;

    public RetryAfterEstimatorTests()
    {
        _queue = new EventQueue(100_000, time: _time);
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

    [Theory]
    [InlineData(6_000, 1_000, 5)] // 5,000 left at 1,000/s
    [InlineData(5_500, 1_000, 5)] // 4,500 left: 4.5 s rounds up, so a client never comes back early
    [InlineData(3_001, 1_500, 2)] // 1,501 left at 1,500/s: just over 1 s
    [InlineData(1_001, 1_000, 1)] // 1 left: a thousandth of a second, rounded up
    [InlineData(1_000, 1_000, 1)] // drained: still 1, never 0
    [InlineData(90_000, 1_000, 30)] // 89 s of backlog: capped at 30
    public void Backlog_over_the_recent_drain_rate_rounded_up_and_clamped(int queued, int drainedInOneSecond, int expected)
    {
        Fill(queued);
        _time.Advance(TimeSpan.FromSeconds(1));
        Drain(drainedInOneSecond);

        Assert.Equal(expected, _estimator.Seconds());
    }

    [Fact]
    public void The_rate_is_sampled_at_most_once_a_second()
    {
        Fill(20_000);
        _time.Advance(TimeSpan.FromSeconds(1));
        Drain(1_000);
        Assert.Equal(19, _estimator.Seconds()); // 19,000 at 1,000/s

        _time.Advance(TimeSpan.FromMilliseconds(500));
        Drain(9_000);
        Assert.Equal(10, _estimator.Seconds()); // 10,000 left, still at the sampled 1,000/s

        _time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Equal(2, _estimator.Seconds()); // re-sampled: 9,000 over the last second
    }

    [Fact]
    public void A_drain_that_stalls_for_a_second_goes_back_to_the_longest_wait()
    {
        Fill(5_000);
        _time.Advance(TimeSpan.FromSeconds(1));
        Drain(4_000);
        Assert.Equal(1, _estimator.Seconds());

        _time.Advance(TimeSpan.FromSeconds(1)); // nothing taken, and the head is a second overdue

        Assert.Equal(30, _estimator.Seconds());
    }
}

using Hermes.Ingest.Events;
using Hermes.Ingest.Pipeline;
using Microsoft.Extensions.Time.Testing;

namespace Hermes.Tests.Unit;

/// <summary>Retry-After is the backlog over the drain rate measured over the last second or more, clamped to [1, 30] s.</summary>
public sealed class RetryAfterEstimatorTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly EventQueue _queue = new(100_000);
    private readonly RetryAfterEstimator _estimator;

    public RetryAfterEstimatorTests() => _estimator = new RetryAfterEstimator(_queue, _time);

    [Fact]
    public void Before_any_drain_is_measured_it_answers_the_longest_wait()
    {
        Fill(10);

        Assert.Equal(30, _estimator.Seconds());
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

        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(30, _estimator.Seconds());
    }

    private void Fill(int count)
    {
        Assert.True(_queue.TryReserve(count));
        _queue.Enqueue(Enumerable.Range(0, count).Select(i => new EventRecord($"r-{i}", "u", 0, 0, null, 0)).ToArray());
    }

    private void Drain(int count) => Assert.Equal(count, _queue.Dequeue(new EventRecord[count]));
}

using Hermes.Ingest.Configuration;
using Hermes.Ingest.Security;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Options;

namespace Hermes.Tests.Unit;

/// <summary>The refill rate of the per-key token bucket, on a fake clock: exact at every rate, fractions included.</summary>
public sealed class ProducerRateLimiterTests
{
    private static ProducerRateLimiter Limiter(double rate, int burst, TimeProvider time) =>
        new(Options.Create(new IngestOptions { RateLimitPerKey = rate, RateLimitBurst = burst }), time);

    [Theory]
    [InlineData(0.5, 1)]
    [InlineData(4, 4)]
    [InlineData(15, 15)]
    [InlineData(25, 25)]
    [InlineData(1000, 1000)]
    [InlineData(2.5, 3)]
    public void A_producer_taking_events_as_fast_as_it_can_gets_the_burst_then_exactly_the_rate(double rate, int burst)
    {
        // Arrange: a clock that moves in 7 ms steps, which line up with neither 100 ms nor the rate's period.
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20_000));
        var limiter = Limiter(rate, burst, clock);
        const int StepMs = 7, Steps = 20_000 / StepMs;

        // Act: take single events until refused, then let 7 ms pass, for 20 s.
        var granted = 0L;
        for (var step = 0; ; step++)
        {
            while (limiter.TryAcquire("mobile", 1, out _))
            {
                granted++;
            }

            if (step == Steps)
            {
                break;
            }

            clock.Advance(TimeSpan.FromMilliseconds(StepMs));
        }

        // Assert: the burst, plus one event per 1/rate seconds of the 19.999 s that passed, not rounded per 100 ms.
        Assert.Equal(burst + (long)Math.Floor(rate * Steps * StepMs / 1000), granted);
    }

    [Fact]
    public void Half_an_event_per_second_grants_one_event_every_two_seconds_and_says_when()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20_000));
        var limiter = Limiter(0.5, 1, clock);

        Assert.True(limiter.TryAcquire("k", 1, out _));
        Assert.False(limiter.TryAcquire("k", 1, out var retryAfter));
        Assert.Equal(TimeSpan.FromSeconds(2), retryAfter);

        clock.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.False(limiter.TryAcquire("k", 1, out retryAfter));
        Assert.Equal(TimeSpan.FromMilliseconds(1), retryAfter);

        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(limiter.TryAcquire("k", 1, out _));
    }

    [Fact]
    public void An_idle_bucket_refills_to_the_burst_and_no_further()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20_000));
        var limiter = Limiter(25, 10, clock);
        Assert.True(limiter.TryAcquire("k", 10, out _));

        clock.Advance(TimeSpan.FromHours(5));

        Assert.True(limiter.TryAcquire("k", 10, out _));
        Assert.False(limiter.TryAcquire("k", 1, out var retryAfter));
        Assert.Equal(TimeSpan.FromMilliseconds(40), retryAfter);
    }

    [Fact]
    public void Keys_have_their_own_buckets()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20_000));
        var limiter = Limiter(1, 2, clock);

        Assert.True(limiter.TryAcquire("noisy", 2, out _));
        Assert.False(limiter.TryAcquire("noisy", 1, out _));

        Assert.True(limiter.TryAcquire("quiet", 2, out _));
    }
}

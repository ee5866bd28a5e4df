using System.Threading.RateLimiting;
using Hermes.Ingest.Configuration;

namespace Hermes.Ingest.Security;

/// <summary>
/// RATE_LIMIT_PER_KEY: a token bucket per producer key (System.Threading.RateLimiting, ASP.NET Core's limiter),
/// counted in events, so a 1,000-event batch takes 1,000 tokens. Buckets are independent: one noisy key drains only
/// its own. Without API keys every producer shares the "anonymous" bucket.
/// </summary>
public sealed class ProducerRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<string>? _limiter;

    public ProducerRateLimiter(IngestOptions options)
    {
        if (options.RateLimitPerKey <= 0)
        {
            return;
        }

        Burst = options.RateLimitBurst;

        // Refill ten times a second so a bucket never waits a whole second for its next tokens.
        var period = TimeSpan.FromMilliseconds(100);
        var perPeriod = (int)Math.Max(1, Math.Round(options.RateLimitPerKey / 10));
        _limiter = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = Burst,
            TokensPerPeriod = perPeriod,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    public bool Enabled => _limiter is not null;

    public int Burst { get; }

    /// <summary>Takes <paramref name="events"/> tokens from the key's bucket, or says how long to wait.</summary>
    public bool TryAcquire(string key, int events, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (_limiter is null)
        {
            return true;
        }

        using var lease = _limiter.AttemptAcquire(key, events);
        if (lease.IsAcquired)
        {
            return true;
        }

        retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        return false;
    }

    public void Dispose() => _limiter?.Dispose();
}

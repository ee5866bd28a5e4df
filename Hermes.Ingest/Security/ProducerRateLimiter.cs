using System.Collections.Concurrent;
using Hermes.Ingest.Configuration;
using Microsoft.Extensions.Options;

namespace Hermes.Ingest.Security;

/// <summary>
/// RATE_LIMIT_PER_KEY: a token bucket per producer key, counted in events, so a 1,000-event batch takes 1,000
/// tokens. Buckets are independent: one noisy key drains only its own. Without API keys every producer shares the
/// "anonymous" bucket.
/// <para>
/// Not System.Threading.RateLimiting's token bucket: it adds whole tokens per replenishment period, and its
/// partitioned limiter replenishes on a 100 ms timer, so a rate had to become a whole number of tokens per 100 ms
/// (0.5/s behaved as 10/s, 25/s as 20/s). <see cref="TokenBucket"/> accrues exactly from elapsed
/// <see cref="TimeProvider"/> ticks instead, fractions of a token included.
/// </para>
/// </summary>
public sealed class ProducerRateLimiter(IOptions<IngestOptions> options, TimeProvider time)
{
    // Read on every producer request: the bound instance in a field.
    private readonly IngestOptions options = options.Value;

    private readonly ConcurrentDictionary<string, TokenBucket> _buckets = new(StringComparer.Ordinal);

    public bool Enabled => options.RateLimitPerKey > 0;

    public int Burst => options.RateLimitBurst;

    /// <summary>Takes <paramref name="events"/> tokens from the key's bucket, or says how long until there are enough.</summary>
    public bool TryAcquire(string key, int events, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (!Enabled)
        {
            return true;
        }

        var bucket = _buckets.GetOrAdd(key, static (_, state) => new TokenBucket(state.Rate, state.Burst, state.Time), (Rate: options.RateLimitPerKey, Burst, Time: time));
        return bucket.TryTake(events, out retryAfter);
    }
}

/// <summary>
/// A token bucket kept in micro-tokens and refilled on every take from the ticks elapsed since the last one, the
/// remainder carried over, so it grants exactly <c>rate × elapsed</c> tokens at any rate and never more than
/// <c>burst</c> at once. Integer arithmetic: a double would drift by an ulp per take and could grant a token a
/// moment early or late at exact boundaries.
/// </summary>
internal sealed class TokenBucket
{
    private const long MicroPerToken = 1_000_000;

    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly long _ratePerSecond;   // micro-tokens
    private readonly long _capacity;        // micro-tokens
    private long _tokens;                   // micro-tokens
    private long _carry;                    // micro-tokens × ticks/second not yet worth a whole micro-token
    private long _last;

    public TokenBucket(double eventsPerSecond, int burst, TimeProvider time)
    {
        _ratePerSecond = Math.Max(1, (long)Math.Round(eventsPerSecond * MicroPerToken));
        _capacity = burst * MicroPerToken;
        _tokens = _capacity;
        _time = time;
        _last = time.GetTimestamp();
    }

    public bool TryTake(int count, out TimeSpan retryAfter)
    {
        var wanted = count * MicroPerToken;
        lock (_lock)
        {
            Refill();
            if (_tokens >= wanted)
            {
                _tokens -= wanted;
                retryAfter = TimeSpan.Zero;
                return true;
            }

            var missing = wanted - _tokens;
            retryAfter = TimeSpan.FromSeconds((double)missing / _ratePerSecond);
            return false;
        }
    }

    private void Refill()
    {
        var now = _time.GetTimestamp();
        var elapsed = now - _last;
        _last = now;
        if (elapsed <= 0 || _tokens == _capacity)
        {
            _carry = 0;
            return;
        }

        // Int128: hours of ticks (10^9 a second on Linux) times a rate in micro-tokens overflow a long.
        var produced = ((Int128)elapsed * _ratePerSecond) + _carry;
        var frequency = _time.TimestampFrequency;
        var added = produced / frequency;
        if (added >= _capacity - _tokens)
        {
            _tokens = _capacity;
            _carry = 0;
            return;
        }

        _tokens += (long)added;
        _carry = (long)(produced % frequency);
    }
}

using Hermes.Ingest.Configuration;

namespace Hermes.Ingest.Pipeline;

/// <summary>
/// Works out <c>Retry-After</c> from how fast workers actually drain the queue: the seconds the current backlog
/// needs at the recent drain rate, clamped to [1, 30]. Clients that honour it come back when there is room
/// instead of hammering a full queue. The rate is re-sampled at most once per second, and only on the 503 path.
/// <para>
/// A window longer than <see cref="MaxWindow"/> says how busy producers were, not how fast a backlog drains (an idle
/// minute and then a burst measures a few events per second), so it is dropped, and so is one in which nothing was
/// taken yet. Without a rate, a queue whose head is not yet due (younger than FLUSH_INTERVAL) is one the workers are
/// about to take, a cold start rather than a stall: 1 s. A head older than that means the workers are stuck: 30 s.
/// It matters to clients that honour it: the RudderStack SDK waits Retry-After before each of its only 3 retries, and
/// a burst into an idle Hermes used to be told 30 s though its queue moved every FLUSH_INTERVAL.
/// </para>
/// </summary>
public sealed class RetryAfterEstimator(EventQueue queue, TimeProvider time, IngestOptions options)
{
    private const int MinSeconds = 1, MaxSeconds = 30;

    private static readonly TimeSpan MaxWindow = TimeSpan.FromSeconds(5);

    private readonly Lock _lock = new();
    private long _sampleTimestamp = time.GetTimestamp();
    private long _sampleDequeued;
    private double _ratePerSecond;

    public int Seconds()
    {
        lock (_lock)
        {
            var elapsed = time.GetElapsedTime(_sampleTimestamp);
            if (elapsed >= TimeSpan.FromSeconds(1))
            {
                var dequeued = queue.DequeuedTotal;
                _ratePerSecond = elapsed <= MaxWindow ? (dequeued - _sampleDequeued) / elapsed.TotalSeconds : 0;
                _sampleDequeued = dequeued;
                _sampleTimestamp = time.GetTimestamp();
            }

            if (_ratePerSecond <= 0)
            {
                return queue.HeadAge is { } age && age < options.FlushInterval ? MinSeconds : MaxSeconds;
            }

            var seconds = Math.Ceiling(queue.Length / _ratePerSecond);
            return (int)Math.Clamp(seconds, MinSeconds, MaxSeconds);
        }
    }
}

namespace Hermes.Ingest.Pipeline;

/// <summary>
/// Works out <c>Retry-After</c> from how fast workers actually drain the queue: the seconds the current backlog
/// needs at the recent drain rate, clamped to [1, 30]. Clients that honour it come back when there is room
/// instead of hammering a full queue. The rate is re-sampled at most once per second, and only on the 503 path.
/// </summary>
public sealed class RetryAfterEstimator(EventQueue queue, TimeProvider time)
{
    private const int MinSeconds = 1, MaxSeconds = 30;

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
                _ratePerSecond = (dequeued - _sampleDequeued) / elapsed.TotalSeconds;
                _sampleDequeued = dequeued;
                _sampleTimestamp = time.GetTimestamp();
            }

            if (_ratePerSecond <= 0)
            {
                return MaxSeconds;
            }

            var seconds = Math.Ceiling(queue.Length / _ratePerSecond);
            return (int)Math.Clamp(seconds, MinSeconds, MaxSeconds);
        }
    }
}

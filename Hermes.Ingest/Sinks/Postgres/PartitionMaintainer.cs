using Hermes.Ingest.Configuration;

namespace Hermes.Ingest.Sinks.Postgres;

/// <summary>
/// Keeps the time partitions ahead of the clock and inside retention: at startup and every
/// <see cref="Period"/>, creates the partitions for now and the next interval (and for MAX_FUTURE_SKEW ahead), so
/// writes at the turn of a day never wait for DDL, and drops the partitions retention no longer keeps. A write
/// that needs a partition nobody made yet (an old timestamp) still creates it itself.
/// </summary>
public sealed partial class PartitionMaintainer(PostgresBatchWriter writer, EventPartitions partitions, PostgresSinkOptions options, IngestOptions ingest,
    TimeProvider time, ILogger<PartitionMaintainer> logger) : BackgroundService
{
    /// <summary>Between runs: well inside the shortest interval (1h), and retention is never more than this late.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromMinutes(5);

    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            var delay = Period;
            try
            {
                if (await writer.TryPrepareAsync(stoppingToken))
                {
                    await RunOnceAsync(time.GetUtcNow(), stoppingToken);
                }
                else
                {
                    delay = RetryDelay;
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogFailed(logger, ex);
                delay = RetryDelay;
            }

            try
            {
                await Task.Delay(delay, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One pass as of <paramref name="now"/>: partitions ahead, then retention.</summary>
    public async Task RunOnceAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var seconds = now.ToUnixTimeSeconds();
        long[] ahead = [seconds, seconds + (long)options.PartitionInterval.TotalSeconds, seconds + (long)ingest.MaxFutureSkew.TotalSeconds];
        await partitions.EnsureCoveredAsync([.. ahead.Select(s => Math.Min(s, PartitionLayout.MaxTimestamp))], cancellationToken);
        await partitions.ApplyRetentionAsync(now, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Partition maintenance failed; trying again in 30 s (writes still create the partitions they need)")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}

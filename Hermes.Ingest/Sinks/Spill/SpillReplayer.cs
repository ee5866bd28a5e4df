using Hermes.Ingest.Sinks.Postgres;

namespace Hermes.Ingest.Sinks.Spill;

/// <summary>
/// Writes spilled batches back to the database, oldest segment first, deleting each segment once done. Runs from
/// startup (so what a previous run left is replayed) and wakes when batches are spilled. While the database is
/// down it retries once a second; the breaker answers those at once until its break has passed, and then one of
/// these retries may be the trial write that closes it.
/// </summary>
public sealed partial class SpillReplayer(PostgresSink sink, SpillStore spill, PostgresSinkMetrics metrics, TimeProvider time,
    ILogger<SpillReplayer> logger) : BackgroundService
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        await sink.TryPrepareAsync(stoppingToken);
        var replayedSinceIdle = 0L;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var batch = await spill.ReadNextAsync(stoppingToken);
                if (batch is null)
                {
                    if (replayedSinceIdle > 0)
                    {
                        LogReplayDone(logger, replayedSinceIdle);
                        replayedSinceIdle = 0;
                    }

                    await sink.WaitForReplayWorkAsync(RetryDelay, stoppingToken);
                    continue;
                }

                if (await sink.TryWriteAsync(batch.Events, batch.TypeNames, replaying: true, stoppingToken))
                {
                    spill.Acknowledge();
                    metrics.OnReplayed(batch.Events.Length);
                    replayedSinceIdle += batch.Events.Length;
                }
                else
                {
                    await Task.Delay(RetryDelay, time, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutdown: what is left stays on disk for the next start.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Spill replayed: {Replayed} events written back to the database")]
    private static partial void LogReplayDone(ILogger logger, long replayed);
}

namespace Hermes.Ingest.Sinks.Durable;

/// <summary>
/// Writes spilled batches back to the destination, oldest segment first, deleting each segment once done. Runs from
/// startup (so what a previous run left is replayed) and wakes when batches are spilled. While the destination is
/// down it retries once a second; the breaker answers those at once until its break has passed, and then one of
/// these retries may be the trial write that closes it. With SPILL_SHARED it also adopts, at start and then every
/// <see cref="AdoptInterval"/> while its own spill is empty, the sibling directories no live instance holds.
/// </summary>
public sealed partial class SpillReplayer(DurableSink sink, IBatchWriter writer, SpillStore spill, DurableSinkOptions options, RunLedger ledger,
    DurableSinkMetrics metrics, TimeProvider time, ILogger<SpillStore> spillLogger, ILogger<SpillReplayer> logger) : BackgroundService
{
    /// <summary>How often a live instance looks for a dead one's spill: a crashed replica's events wait at most this long.</summary>
    public static readonly TimeSpan AdoptInterval = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        await writer.TryPrepareAsync(stoppingToken);
        var replayedSinceIdle = 0L;
        var nextAdoption = time.GetUtcNow();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var batch = await spill.ReadNextAsync(stoppingToken);
                if (batch is null)
                {
                    if (replayedSinceIdle > 0)
                    {
                        LogReplayDone(logger, replayedSinceIdle, sink.Name);
                        replayedSinceIdle = 0;
                    }

                    if (options.SpillShared && time.GetUtcNow() >= nextAdoption)
                    {
                        await AdoptOrphansAsync(stoppingToken);
                        nextAdoption = time.GetUtcNow() + AdoptInterval;
                        continue;
                    }

                    await sink.WaitForReplayWorkAsync(RetryDelay, stoppingToken);
                    continue;
                }

                replayedSinceIdle += await ReplayAsync(spill, batch, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutdown: what is left stays on disk for the next start (or, with SPILL_SHARED, for whoever adopts it).
        }
    }

    /// <summary>One try at writing a batch back; the events written, or 0 after waiting <see cref="RetryDelay"/>.</summary>
    private async Task<long> ReplayAsync(SpillStore store, SpillBatch batch, CancellationToken stoppingToken)
    {
        if (await sink.TryWriteAsync(batch.Events, batch.TypeNames, replaying: true, stoppingToken))
        {
            store.Acknowledge();
            metrics.OnReplayed(batch.Events.Length);
            return batch.Events.Length;
        }

        await Task.Delay(RetryDelay, time, stoppingToken);
        return 0;
    }

    /// <summary>
    /// Replays every sibling directory whose lock this instance can take, one at a time, holding the lock until the
    /// directory is replayed and deleted: the lock, not the destination's idempotent writes, is what keeps a directory from
    /// being replayed twice. A directory left half done (shutdown, crash) keeps its lock file for the next adopter.
    /// </summary>
    private async Task AdoptOrphansAsync(CancellationToken stoppingToken)
    {
        foreach (var directory in SpillStore.Siblings(options))
        {
            using var orphan = SpillStore.TryAdopt(directory, options, metrics, spillLogger);
            if (orphan is null)
            {
                continue;
            }

            LogAdopting(logger, directory);
            ledger.ReportAdopted(directory);
            long replayed = 0;
            while (await orphan.ReadNextAsync(stoppingToken) is { } batch)
            {
                replayed += await ReplayAsync(orphan, batch, stoppingToken);
            }

            orphan.DeleteDirectory();
            LogAdopted(logger, directory, replayed);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Spill replayed: {Replayed} events written back to the {Sink} sink")]
    private static partial void LogReplayDone(ILogger logger, long replayed, string sink);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Adopting spill directory {Directory}: no live instance holds it; replaying it")]
    private static partial void LogAdopting(ILogger logger, string directory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Adopted spill directory {Directory}: {Replayed} events written back; directory deleted")]
    private static partial void LogAdopted(ILogger logger, string directory, long replayed);
}

namespace Hermes.Ingest.Aggregation;

/// <summary>Evicts aggregate buckets past retention (or over the bucket cap) once a minute.</summary>
public sealed class AggregateJanitor(MinuteAggregator aggregator, TimeProvider time) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(1), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                aggregator.Evict();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}

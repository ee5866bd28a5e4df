using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Hermes.Ingest.Sinks.Durable;

/// <summary>
/// Readiness of a durable sink, whatever the destination: degraded (still 200, still ready) while the breaker is open
/// and batches spill, unhealthy only when the spill is full too, because from then on accepted events are dropped.
/// </summary>
public sealed class DurableSinkHealthCheck(WriteBreaker breaker, SpillStore spill, IBatchWriter writer) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult((breaker.State, spill.IsFull) switch
        {
            (WriteBreaker.Closed, false) => HealthCheckResult.Healthy($"Writing to the {writer.Name} sink."),
            (WriteBreaker.Closed, true) => HealthCheckResult.Degraded($"Writing to the {writer.Name} sink; the spill is full until replay frees it."),
            (_, false) => HealthCheckResult.Degraded($"Circuit to the {writer.Name} sink open: batches go to the disk spill and are replayed when it closes."),
            _ => HealthCheckResult.Unhealthy($"Circuit to the {writer.Name} sink open and the spill is full: batches are being dropped."),
        });
}

using Hermes.Ingest.Sinks.Spill;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Hermes.Ingest.Sinks.Postgres;

/// <summary>
/// Readiness of the durable store: degraded (still 200, still ready) while the breaker is open and batches spill,
/// unhealthy only when the spill is full too, because from then on accepted events would be dropped.
/// </summary>
public sealed class PostgresHealthCheck(DatabaseBreaker breaker, SpillStore spill) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult((breaker.State, spill.IsFull) switch
        {
            (DatabaseBreaker.Closed, false) => HealthCheckResult.Healthy("Writing to PostgreSQL."),
            (DatabaseBreaker.Closed, true) => HealthCheckResult.Degraded("Writing to PostgreSQL; the spill is full until replay frees it."),
            (_, false) => HealthCheckResult.Degraded("PostgreSQL circuit open: batches go to the disk spill and are replayed when it closes."),
            _ => HealthCheckResult.Unhealthy("PostgreSQL circuit open and the spill is full: batches are being dropped."),
        });
}

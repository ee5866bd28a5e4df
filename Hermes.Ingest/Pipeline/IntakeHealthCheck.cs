using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Hermes.Ingest.Pipeline;

/// <summary>Readiness: unhealthy once shutdown has begun, so <c>/health</c> answers 503 while workers drain.</summary>
public sealed class IntakeHealthCheck(IntakeGate gate) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(gate.IsOpen
            ? HealthCheckResult.Healthy("Accepting events.")
            : HealthCheckResult.Unhealthy("Draining for shutdown; not accepting events."));
}

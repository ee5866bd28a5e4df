using System.Globalization;
using Hermes.Client.Buffering;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Hermes.Client.Diagnostics;

/// <summary>
/// The <c>hermes-client</c> check, from what the client already knows (no request of its own): Unhealthy while
/// events are being dropped because the buffer is full (data is being lost now), Degraded while Hermes is not taking
/// batches but the buffer still has room (nothing lost yet), Healthy otherwise. Set
/// <c>Hermes:Client:DisableHealthChecks</c> to keep a producer's readiness independent of its analytics.
/// </summary>
internal sealed class HermesClientHealthCheck(EventBuffer buffer, DeliveryState delivery, HermesClientMetrics metrics) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>
        {
            ["buffered"] = buffer.Count,
            ["capacity"] = buffer.Capacity,
            ["sent"] = metrics.Sent,
            ["dropped"] = metrics.DroppedBufferFull,
        };
        var failing = delivery.Failing;
        var fill = string.Create(CultureInfo.InvariantCulture, $"{buffer.Count:N0} of {buffer.Capacity:N0} events buffered");
        var why = failing is { } f ? string.Create(CultureInfo.InvariantCulture, $"Hermes has not taken a batch for {f.For.TotalSeconds:F0} s (last: {f.Reason}); ") : "";

        if (delivery.DroppedRecently)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy(
                $"{why}the buffer is full and new events are dropped ({metrics.DroppedBufferFull:N0} so far); {fill}.", data: data));
        }

        return Task.FromResult(failing is null
            ? HealthCheckResult.Healthy($"{fill}.", data)
            : HealthCheckResult.Degraded($"{why}{fill}.", data: data));
    }
}

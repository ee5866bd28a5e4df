namespace Hermes.Client;

/// <summary>
/// The names the client's spans and instruments are published under. <c>builder.AddHermesClient</c> registers both
/// with OpenTelemetry; elsewhere add them yourself: <c>tracing.AddSource(HermesClientTelemetry.ActivitySourceName)</c>,
/// <c>metrics.AddMeter(HermesClientTelemetry.MeterName)</c>.
/// </summary>
public static class HermesClientTelemetry
{
    /// <summary>The ActivitySource of the <c>hermes.client.send</c> span, one per batch, parent of its HTTP attempts.</summary>
    public const string ActivitySourceName = "Hermes.Client";

    /// <summary>The meter of the <c>hermes_client_*</c> instruments.</summary>
    public const string MeterName = "Hermes.Client";
}

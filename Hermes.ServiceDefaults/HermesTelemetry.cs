namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The one Meter and one ActivitySource every Hermes service writes to. ServiceDefaults registers both names,
/// so Hermes's instruments and spans reach Prometheus, OTLP and the Aspire dashboard without further wiring.
/// </summary>
public static class HermesTelemetry
{
    public const string MeterName = "Hermes";

    public const string ActivitySourceName = "Hermes";
}

using System.Diagnostics;

namespace Hermes.Ingest.Telemetry;

/// <summary>Hermes's one ActivitySource (registered by ServiceDefaults when OTLP is configured).</summary>
public static class IngestTracing
{
    public static readonly ActivitySource Source = new(HermesTelemetry.ActivitySourceName);
}

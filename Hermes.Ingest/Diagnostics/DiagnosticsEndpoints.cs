using Hermes.Ingest.Configuration;
using Microsoft.Extensions.Options;

namespace Hermes.Ingest.Diagnostics;

public static class DiagnosticsEndpoints
{
    /// <summary>Prometheus text exposition of every instrument on the Hermes meter, plus ASP.NET and runtime metrics.</summary>
    public static WebApplication MapMetricsEndpoint(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }

    public static WebApplication MapDebugEndpointsIfEnabled(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<IngestOptions>>().Value.DebugEndpoints)
        {
            app.MapDebugApi();
            app.Logger.LogWarning("Diagnostics endpoints are enabled at /debug/*: they expose process memory; never serve them on the open internet");
        }

        return app;
    }
}

using Hermes.Ingest.Apis;
using Hermes.Ingest.Configuration;
using Hermes.Ingest.Diagnostics;
using Hermes.Ingest.Extensions;
using Hermes.Ingest.Security;

// Hermes.Ingest: HTTP intake → bounded queue → worker pool → aggregator + sink. Read top to bottom.
try
{
    // Settings from the app's own directory, whatever the working directory (a systemd unit, a container's WORKDIR).
    var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = HermesContentRoot.Resolve() });

    builder.AddServiceDefaults();   // OpenTelemetry, health checks, service discovery, resilience
    builder.AddIngestServices();    // options (validated), queue, workers, aggregator, sink

    var app = builder.Build();

    app.UseFrameworkProblems();     // 404, 405, unbindable query values and unhandled exceptions as problem+json
    app.MapDefaultEndpoints();      // /health (readiness, 503 while draining) and /alive
    app.MapEventsApi();             // POST /events, POST /events/batch
    app.MapSegmentApi();            // POST /v1/batch, POST /v1/track (Segment and RudderStack SDKs)
    app.MapAggregatesApi();         // GET /aggregates
    app.MapStatsApi();              // GET /stats, GET /aggregates/stream (SSE, once a second)
    app.MapMetricsEndpoint();       // GET /metrics (Prometheus)
    app.MapOpenApi();               // GET /openapi/v1.json
    app.MapDebugEndpointsIfEnabled(); // /debug/* only with DEBUG_ENDPOINTS=true, behind ADMIN_API_KEYS
    app.WarnWhenOpenToTheNetwork();   // no API_KEYS and listening beyond loopback → a startup warning

    await app.RunAsync();
    return 0;
}
catch (InvalidSettingException ex)
{
    await Console.Error.WriteLineAsync(ex.Message);
    return 2;
}

/// <summary>Visible to tests (WebApplicationFactory).</summary>
public partial class Program;

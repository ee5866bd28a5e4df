using Hermes.Dashboard.Apis;
using Hermes.Dashboard.Components;
using Hermes.Dashboard.Extensions;

// Hermes.Dashboard: a read-only live view of ingest, fed by one shared upstream subscription.
// Settings and wwwroot from the app's own directory when published, whatever the working directory.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = HermesContentRoot.Resolve() });

builder.AddServiceDefaults();       // OpenTelemetry, health checks, service discovery, resilience
builder.AddDashboardServices();     // typed ingest clients, the shared live feed

// Serve blazor.web.js from the build output in every environment, not only Development (a published app has no
// runtime manifest, so this is then a no-op): tests and the AppHost may run the built app as Production.
builder.WebHost.UseStaticWebAssets();

builder.Services.AddRazorComponents()
    .AddInteractiveServerComponents();

var app = builder.Build();

app.UseAntiforgery();

app.MapDefaultEndpoints();          // /health and /alive
app.MapStaticAssets();
app.MapExportApi();                 // GET /export/aggregates.csv
app.MapRazorComponents<App>()
    .AddInteractiveServerRenderMode();

app.Run();

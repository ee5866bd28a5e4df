using Hermes.Dashboard.Components;

// Hermes.Dashboard: a read-only live view of ingest, fed by one shared upstream subscription.
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();   // OpenTelemetry, health checks, service discovery, resilience

// Serve blazor.web.js from the build output in every environment, not only Development (a published app has no
// runtime manifest, so this is then a no-op): tests and the AppHost run the built app as Production.
builder.WebHost.UseStaticWebAssets();

builder.Services.AddRazorComponents()
    .AddInteractiveServerComponents();

var app = builder.Build();

app.UseAntiforgery();

app.MapDefaultEndpoints();      // /health and /alive
app.MapStaticAssets();
app.MapRazorComponents<App>()
    .AddInteractiveServerRenderMode();

app.Run();

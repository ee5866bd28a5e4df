using Hermes.Dashboard.Apis;
using Hermes.Dashboard.Components;
using Hermes.Dashboard.Configuration;
using Hermes.Dashboard.Extensions;
using Hermes.Dashboard.Security;

// Hermes.Dashboard: a read-only live view of ingest, fed by one shared upstream subscription.
try
{
    // Settings and wwwroot from the app's own directory when published, whatever the working directory.
    var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = HermesContentRoot.Resolve() });

    builder.AddServiceDefaults();       // OpenTelemetry, health checks, service discovery, resilience
    builder.AddDashboardServices();     // typed ingest clients, the shared live feed
    builder.AddDashboardSignIn();       // access key or OpenID Connect whenever ingest's counts are protected

    // Serve blazor.web.js from the build output in every environment, not only Development (a published app has no
    // runtime manifest, so this is then a no-op): tests and the AppHost may run the built app as Production.
    builder.WebHost.UseStaticWebAssets();

    builder.Services.AddRazorComponents()
        .AddInteractiveServerComponents();

    var app = builder.Build();

    app.UseDashboardSignIn();           // authentication, then authorization (before antiforgery, which needs the user)
    app.UseAntiforgery();

    app.MapDefaultEndpoints();          // /health and /alive, open to probes
    app.MapStaticAssets()               // CSS and scripts hold no data, and the sign-in page needs them
        .AllowAnonymous();
    app.MapExportApi();                 // GET /export/aggregates.csv
    app.MapRazorComponents<App>()
        .AddInteractiveServerRenderMode();

    app.Run();
    return 0;
}
catch (DashboardSettingException ex)
{
    await Console.Error.WriteLineAsync(ex.Message);
    return 2;
}

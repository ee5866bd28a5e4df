extern alias Dashboard;

using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Hermes.Tests.Browser;

/// <summary>
/// The real Hermes.Dashboard (its Program.cs) on Kestrel over loopback, on a free port, pointed at an ingest address
/// the way Aspire points it: <c>services:ingest:http:0</c>, with any further <paramref name="settings"/>.
/// </summary>
public sealed class DashboardHost(string ingestUrl, string? ingestApiKey = null, Dictionary<string, string>? settings = null)
    : WebApplicationFactory<Dashboard::Program>
{
    /// <summary>Starts Kestrel and returns the dashboard's address.</summary>
    public Uri Start()
    {
        UseKestrel();
        StartServer();
        using var client = CreateClient();
        if (client.BaseAddress is not { Host: "127.0.0.1", IsDefaultPort: false } address)
        {
            throw new InvalidOperationException($"Expected Kestrel on 127.0.0.1 with a real port, got {client.BaseAddress}.");
        }

        return address;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.UseSetting("urls", "http://127.0.0.1:0");
        builder.UseSetting("services:ingest:http:0", ingestUrl);
        builder.UseSetting("OTEL_EXPORTER_OTLP_ENDPOINT", "");
        if (ingestApiKey is not null)
        {
            builder.UseSetting("Ingest:ApiKey", ingestApiKey);
        }

        foreach (var (key, value) in settings ?? [])
        {
            builder.UseSetting(key, value);
        }
    }
}

using Hermes.Ingest.Sinks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Hermes.Tests.Infrastructure;

/// <summary>
/// Runs the real Hermes.Ingest (its Program.cs) on Kestrel over loopback, on a free port, with settings given
/// the way an operator gives them (the seed's environment names) and, where a test needs it, a sink or clock it
/// controls.
/// </summary>
public sealed class HermesFactory : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _services;

    public HermesFactory(Dictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        _settings = new(settings ?? [])
        {
            ["HTTP_ADDR"] = "127.0.0.1:0",
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "",
        };
        _services = services;
        UseKestrel();
    }

    /// <summary>Replaces the sink (the in-memory one by default).</summary>
    public static Action<IServiceCollection> WithSink(IEventSink sink) =>
        services => services.Replace(ServiceDescriptor.Singleton(sink));

    public static Action<IServiceCollection> WithClock(TimeProvider time) =>
        services => services.Replace(ServiceDescriptor.Singleton(time));

    public T Service<T>() where T : notnull => Services.GetRequiredService<T>();

    /// <summary>Starts Kestrel and returns a client bound to it.</summary>
    public HttpClient Start()
    {
        StartServer();
        var client = CreateClient();

        // Guard against silently falling back to the in-memory TestServer: these tests are over real loopback HTTP.
        if (client.BaseAddress is not { Host: "127.0.0.1", IsDefaultPort: false })
        {
            throw new InvalidOperationException($"Expected Kestrel on 127.0.0.1 with a real port, got {client.BaseAddress}.");
        }

        return client;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        if (_services is not null)
        {
            builder.ConfigureTestServices(_services);
        }
    }
}

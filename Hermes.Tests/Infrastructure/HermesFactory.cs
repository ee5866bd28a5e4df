using Hermes.Ingest.Sinks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Hermes.Tests.Infrastructure;

/// <summary>
/// Runs the real Hermes.Ingest (its Program.cs) on Kestrel over loopback, on a free port, with settings given
/// the way an operator gives them (the seed's environment names) and, where a test needs it, a sink, clock or
/// service it controls. Composed before <see cref="Start"/>:
/// <code>new HermesFactory().WithSetting("FLUSH_INTERVAL", "1h").WithSink(sink).WithClock(clock)</code>
/// </summary>
public sealed class HermesFactory : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;
    private readonly List<Action<IServiceCollection>> _services = [];
    private bool _started;

    public HermesFactory(Dictionary<string, string?>? settings = null)
    {
        _settings = new(settings ?? [])
        {
            ["HTTP_ADDR"] = "127.0.0.1:0",
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "",
        };
        UseKestrel();
    }

    /// <summary>One setting by its operator name (QUEUE_SIZE, DB_DSN, …); the last value given wins.</summary>
    public HermesFactory WithSetting(string name, string? value)
    {
        Unstarted()._settings[name] = value;
        return this;
    }

    public HermesFactory WithSettings(IEnumerable<KeyValuePair<string, string?>> settings)
    {
        foreach (var (name, value) in settings)
        {
            WithSetting(name, value);
        }

        return this;
    }

    /// <summary>Replaces the sink (the in-memory one by default).</summary>
    public HermesFactory WithSink(IEventSink sink) => WithServices(services => services.Replace(ServiceDescriptor.Singleton(sink)));

    /// <summary>Replaces the clock every part of the pipeline reads.</summary>
    public HermesFactory WithClock(TimeProvider time) => WithServices(services => services.Replace(ServiceDescriptor.Singleton(time)));

    /// <summary>Changes the app's services after Program.cs registered its own (applied in the order given).</summary>
    public HermesFactory WithServices(Action<IServiceCollection> configure)
    {
        Unstarted()._services.Add(configure);
        return this;
    }

    public T Service<T>() where T : notnull => Services.GetRequiredService<T>();

    /// <summary>Starts Kestrel and returns a client bound to it.</summary>
    public HttpClient Start()
    {
        _started = true;
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

        builder.ConfigureTestServices(services =>
        {
            foreach (var configure in _services)
            {
                configure(services);
            }
        });
    }

    /// <summary>A change after the host is built would be silently ignored; fail loudly instead.</summary>
    private HermesFactory Unstarted() =>
        _started ? throw new InvalidOperationException("Compose the factory before Start(): the host is already built.") : this;
}

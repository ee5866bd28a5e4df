using System.Diagnostics.Metrics;
using Hermes.Ingest.Aggregation;
using Hermes.Ingest.Apis;
using Hermes.Ingest.Configuration;
using Hermes.Ingest.Diagnostics;
using Hermes.Ingest.Events;
using Hermes.Ingest.Events.Segment;
using Hermes.Ingest.Pipeline;
using Hermes.Ingest.Security;
using Hermes.Ingest.Sinks;
using Hermes.Ingest.Sinks.Postgres;
using Hermes.Ingest.Telemetry;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Metrics;

namespace Hermes.Ingest.Extensions;

/// <summary>The composition root: registers the pipeline, intake → queue → workers → aggregator and sink.</summary>
public static class Extensions
{
    /// <summary>
    /// Reads and validates the configuration (throwing <see cref="InvalidSettingException"/> naming every bad
    /// setting), applies the listen address and limits, and registers every pipeline stage.
    /// </summary>
    public static WebApplicationBuilder AddIngestServices(this WebApplicationBuilder builder)
    {
        var options = IngestOptionsLoader.Load(builder.Configuration);
        var services = builder.Services;
        services.AddLoadedOptions<IngestOptions, IngestOptionsValidator, IngestOptionsRules>(options);

        ConfigureListenAddress(builder, options);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // Per-endpoint limits are enforced by intake; this is the outer bound.
            kestrel.Limits.MaxRequestBodySize = Math.Max(options.MaxBatchBytes, options.MaxEventBytes);
            kestrel.AddServerHeader = false;

            // Slow-loris: a client that dribbles headers or a body holds a connection and a buffer; cut it off.
            kestrel.Limits.RequestHeadersTimeout = options.RequestHeadersTimeout;
            kestrel.Limits.MinRequestBodyDataRate = new(options.MinRequestBodyBytesPerSecond, options.MinRequestBodyGrace);
        });
        services.Configure<HostOptions>(host => host.ShutdownTimeout = options.ShutdownTimeout);

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<EventTypeCatalog>();
        services.AddSingleton<EventParser>();
        services.AddSingleton<SegmentEventNames>();
        services.AddSingleton<SegmentReader>();
        services.AddSingleton(provider => new EventQueue(options.QueueSize, options.BatchSize, options.WorkerCount, provider.GetRequiredService<TimeProvider>())
            .ObservedOn(provider.GetRequiredService<IMeterFactory>()));
        services.AddSingleton<IntakeGate>();
        services.AddSingleton<RetryAfterEstimator>();
        services.AddSingleton(provider => new IngestMetrics(provider.GetRequiredService<IMeterFactory>(), provider.GetRequiredService<ApiKeyRing>().Labels));
        services.AddSingleton(provider => ActivatorUtilities.CreateInstance<MinuteAggregator>(provider)
            .ObservedOn(provider.GetRequiredService<IMeterFactory>()));
        services.AddSingleton<EventIntake>();
        services.AddSingleton<ApiKeyRing>();
        services.AddSingleton<ApiKeyCheck>();
        services.AddSingleton<ProducerRateLimiter>();

        services.AddHostedService<BatchWorkers>();
        services.AddHostedService<AggregateJanitor>();
        services.AddSingleton<LiveStats>();
        services.AddHostedService(provider => provider.GetRequiredService<LiveStats>());

        // DB_DSN or ConnectionStrings:hermesdb → PostgreSQL in the durable layer (breaker, disk spill, replay, crash
        // ledger); neither → in memory. After the workers: replay must stop before they drain (DurableSinkExtensions).
        if (!builder.AddPostgresSink(options))
        {
            services.TryAddSingleton<IEventSink, MemorySink>();
        }

        services.AddHealthChecks().AddCheck<IntakeHealthCheck>("intake", tags: ["ready"]);
        services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddPrometheusExporter());
        services.AddOpenApi();
        services.AddFrameworkProblems();

        return builder;
    }

    /// <summary>HTTP_ADDR wins; with no address configured at all, listen on the seed's default <c>:8080</c>.</summary>
    private static void ConfigureListenAddress(WebApplicationBuilder builder, IngestOptions options)
    {
        if (options.HttpAddress is { } address)
        {
            builder.WebHost.UseUrls(address);
            return;
        }

        var configuration = builder.Configuration;
        var aspNetConfigured = configuration["urls"] ?? configuration["http_ports"] ?? configuration["https_ports"]
            ?? configuration.GetSection("Kestrel:Endpoints").GetChildren().FirstOrDefault()?.Key;
        if (aspNetConfigured is null)
        {
            builder.WebHost.UseUrls("http://*:8080");
        }
    }
}

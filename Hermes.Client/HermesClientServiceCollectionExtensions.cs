using System.Diagnostics.Metrics;
using Hermes.Client;
using Hermes.Client.Buffering;
using Hermes.Client.Diagnostics;
using Hermes.Client.Hosting;
using Hermes.Client.Sending;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="HermesClient"/> in an app that is not run by Aspire.</summary>
public static class HermesClientServiceCollectionExtensions
{
    /// <summary>
    /// Registers a <see cref="HermesClient"/> that sends to <paramref name="endpoint"/> (for example
    /// <c>http://localhost:8080</c>), with its <c>hermes-client</c> health check and its flush at host shutdown.
    /// Its spans and instruments are published under <see cref="HermesClientTelemetry"/>'s names for you to add to
    /// your OpenTelemetry setup.
    /// </summary>
    /// <exception cref="OptionsValidationException">A setting is invalid; the message names each one and its value.</exception>
    public static IServiceCollection AddHermesClient(this IServiceCollection services, Uri endpoint, Action<HermesClientSettings>? configureSettings = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(endpoint);
        var settings = new HermesClientSettings { Endpoint = endpoint };
        configureSettings?.Invoke(settings);
        return services.AddHermesClientCore(settings, serviceDiscovery: false);
    }

    internal static IServiceCollection AddHermesClientCore(this IServiceCollection services, HermesClientSettings settings, bool serviceDiscovery)
    {
        HermesClientSettingsValidator.ThrowIfInvalid(settings);
        if (services.Any(d => d.ServiceType == typeof(HermesClient)))
        {
            throw new InvalidOperationException("AddHermesClient was called twice: an application has one HermesClient (it is thread-safe).");
        }

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(new EventBuffer(settings.BufferCapacity, settings.MaxBatchEvents));
        services.AddSingleton(provider => new HermesClientMetrics(provider.GetService<IMeterFactory>(), provider.GetRequiredService<EventBuffer>()));
        services.AddSingleton(provider => new DeliveryState(provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton(provider => new HermesClient(settings, provider.GetRequiredService<EventBuffer>(),
            provider.GetRequiredService<HermesClientMetrics>(), provider.GetRequiredService<DeliveryState>(),
            provider.GetRequiredService<IHttpClientFactory>(), provider.GetRequiredService<ILogger<HermesClient>>(),
            provider.GetRequiredService<TimeProvider>()));
        services.AddHostedService(provider => new HermesClientLifetime(provider.GetRequiredService<HermesClient>()));

        var http = services.AddHttpClient(BatchSender.HttpClientName, client =>
            {
                // A trailing slash, so events/batch is appended to a base path (a proxy's /hermes/) instead of replacing it.
                var endpoint = settings.Endpoint!.ToString();
                client.BaseAddress = new Uri(endpoint.EndsWith('/') ? endpoint : endpoint + "/");
                // Attempts are bounded by the pipeline's AttemptTimeout and the retries by shutdown; HttpClient's own
                // 100 s would cut a batch that is waiting out an outage.
                client.Timeout = Timeout.InfiniteTimeSpan;
                if (settings.ApiKey is { } key)
                {
                    client.DefaultRequestHeaders.TryAddWithoutValidation(settings.ApiKeyHeaderName, key);
                }
            })
            // HttpClient's own logging prints request headers at Trace level: never the key.
            .RedactLoggedHeaders([settings.ApiKeyHeaderName, "Authorization"]);

        // ConfigureHttpClientDefaults (Aspire's ServiceDefaults) adds the standard resilience handler to every client:
        // three retries and a 30 s total timeout would drop a batch during an outage. This client brings its own.
        // RemoveAllResilienceHandlers is experimental, but it is the documented way to opt one client out.
#pragma warning disable EXTEXP0001
        http.RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        if (serviceDiscovery)
        {
            services.AddServiceDiscovery();
            http.AddServiceDiscovery();
        }

        http.AddResilienceHandler(HermesResilience.PipelineName, (pipeline, context) => HermesResilience.Configure(pipeline, settings,
            context.ServiceProvider.GetRequiredService<HermesClientMetrics>(), context.ServiceProvider.GetRequiredService<DeliveryState>()));

        if (!settings.DisableHealthChecks)
        {
            services.AddHealthChecks().Add(new Diagnostics.HealthChecks.HealthCheckRegistration("hermes-client",
                provider => new HermesClientHealthCheck(provider.GetRequiredService<EventBuffer>(), provider.GetRequiredService<DeliveryState>(),
                    provider.GetRequiredService<HermesClientMetrics>()),
                failureStatus: null, tags: null));
        }

        return services;
    }
}

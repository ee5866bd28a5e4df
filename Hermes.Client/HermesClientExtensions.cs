using Hermes.Client;
using Hermes.Client.Buffering;
using Hermes.Client.Diagnostics;
using Hermes.Client.Hosting;
using Hermes.Client.Sending;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>Registers <see cref="HermesClient"/> the way Aspire client integrations register theirs.</summary>
public static class HermesClientExtensions
{
    /// <summary>
    /// Registers a <see cref="HermesClient"/> for the Hermes service <paramref name="serviceName"/>: settings from
    /// <c>Hermes:Client</c> (then <paramref name="configureSettings"/>), validated now; Hermes's address from
    /// <c>Hermes:Client:Endpoint</c>, else <c>ConnectionStrings:{serviceName}</c>, else service discovery
    /// (<c>https+http://{serviceName}</c>, which Aspire's <c>WithReference</c> fills in); the <c>hermes-client</c>
    /// health check; the <c>Hermes.Client</c> ActivitySource and meter with OpenTelemetry.
    /// </summary>
    /// <exception cref="OptionsValidationException">A setting is invalid; the message names each one and its value.</exception>
    public static IHostApplicationBuilder AddHermesClient(this IHostApplicationBuilder builder, string serviceName, Action<HermesClientSettings>? configureSettings = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(serviceName);

        var settings = new HermesClientSettings();
        try
        {
            builder.Configuration.GetSection(HermesClientSettings.SectionName).Bind(settings);
        }
        catch (InvalidOperationException ex)
        {
            // "Failed to convert configuration value at 'Hermes:Client:BufferCapacity' to type 'System.Int32'."
            throw new OptionsValidationException(HermesClientSettings.SectionName, typeof(HermesClientSettings), [ex.Message]);
        }

        if (settings.Endpoint is null)
        {
            var connectionString = builder.Configuration.GetConnectionString(serviceName);
            if (string.IsNullOrWhiteSpace(connectionString))
            {
                settings.Endpoint = new Uri($"https+http://{serviceName}");
            }
            else if (Uri.TryCreate(connectionString, UriKind.Absolute, out var endpoint))
            {
                settings.Endpoint = endpoint;
            }
            else
            {
                throw new OptionsValidationException(HermesClientSettings.SectionName, typeof(HermesClientSettings),
                    [$"ConnectionStrings:{serviceName}={connectionString} is invalid: expected Hermes's address, for example http://localhost:8080."]);
            }
        }

        configureSettings?.Invoke(settings);
        builder.Services.AddHermesClientCore(settings, serviceDiscovery: true);

        if (!settings.DisableTracing)
        {
            builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing.AddSource(HermesClientTelemetry.ActivitySourceName));
        }

        if (!settings.DisableMetrics)
        {
            builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(HermesClientTelemetry.MeterName));
        }

        return builder;
    }
}

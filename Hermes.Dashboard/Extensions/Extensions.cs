using Hermes.Dashboard.Configuration;
using Hermes.Dashboard.Ingest;
using Hermes.Dashboard.Live;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Hermes.Dashboard.Extensions;

public static class Extensions
{
    /// <summary>Ingest's service-discovery name: Aspire injects <c>services__ingest__http__0</c>.</summary>
    private static readonly Uri IngestService = new("https+http://ingest");

    /// <summary>
    /// The dashboard's settings (<see cref="DashboardSettings"/>, validated), the typed ingest clients, the shared live
    /// feed and, when not run by Aspire, the ingest address from <c>INGEST_URL</c> or <c>Ingest:Url</c> mapped to where
    /// service discovery looks for it.
    /// </summary>
    public static IHostApplicationBuilder AddDashboardServices(this IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var settings = builder.AddDashboardSettings();
        var standaloneUrl = settings.IngestUrl;
        if (!configuration.GetSection("services:ingest").Exists() && standaloneUrl is not null)
        {
            configuration.AddInMemoryCollection([new("services:ingest:http:0", standaloneUrl)]);
        }

        builder.Services.AddSingleton(_ => new DashboardOptions
        {
            IngestUrl = settings.IngestPublicUrl
                ?? configuration["services:ingest:http:0"] ?? configuration["services:ingest:https:0"] ?? standaloneUrl ?? "http://localhost:8080",
        });

        builder.Services.TryAddSingleton(TimeProvider.System);

        // When ingest requires READ_API_KEYS, the dashboard's server side sends one (never the browser: it stays here).
        var apiKey = settings.IngestApiKey;
        void Authenticate(HttpClient http)
        {
            if (!string.IsNullOrEmpty(apiKey))
            {
                http.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
            }
        }

        // Short request/response calls: the standard resilience handler from ServiceDefaults applies.
        builder.Services.AddHttpClient<IngestClient>(http =>
        {
            http.BaseAddress = IngestService;
            Authenticate(http);
        });

        // The long-lived SSE stream: no total or attempt timeout to cut it, no retry mid-stream; LiveFeed reconnects.
        // RemoveAllResilienceHandlers is marked experimental, but it is the documented way to opt one client out of
        // ConfigureHttpClientDefaults' standard handler; service discovery stays on.
#pragma warning disable EXTEXP0001
        builder.Services.AddHttpClient<IngestStream>(http =>
            {
                http.BaseAddress = IngestService;
                http.Timeout = Timeout.InfiniteTimeSpan;
                Authenticate(http);
            })
            .RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001

        builder.Services.AddSingleton<LiveFeed>();
        builder.Services.AddSingleton<ILiveFeed>(services => services.GetRequiredService<LiveFeed>());
        builder.Services.AddHostedService(services => services.GetRequiredService<LiveFeed>());

        return builder;
    }
}

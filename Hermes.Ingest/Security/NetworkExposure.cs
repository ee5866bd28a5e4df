using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Hermes.Ingest.Security;

public static partial class NetworkExposure
{
    /// <summary>Warns at startup when producers need no key and Hermes listens beyond loopback.</summary>
    public static WebApplication WarnWhenOpenToTheNetwork(this WebApplication app)
    {
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            if (app.Services.GetRequiredService<ApiKeyRing>().ProducersRequireKey)
            {
                return;
            }

            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            var exposed = addresses.Where(a => !IsLoopback(a)).ToList();
            if (exposed.Count > 0)
            {
                LogOpen(app.Logger, string.Join(", ", exposed));
            }
        });
        return app;
    }

    private static bool IsLoopback(string address) =>
        Uri.TryCreate(address.Replace("*", "0.0.0.0", StringComparison.Ordinal).Replace("+", "0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri)
        && (uri.IsLoopback || uri.Host == "localhost");

    [LoggerMessage(Level = LogLevel.Warning, Message = "No API_KEYS are set and Hermes listens on {Addresses}: anyone who can reach it can send events. Set API_KEYS (and RATE_LIMIT_PER_KEY) before exposing it.")]
    private static partial void LogOpen(ILogger logger, string addresses);
}

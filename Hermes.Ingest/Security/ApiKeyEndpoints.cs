using Hermes.Ingest.Apis;
using Hermes.Ingest.Diagnostics;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Hermes.Ingest.Security;

public static partial class ApiKeyEndpoints
{
    /// <summary>
    /// Requires a key with <paramref name="scope"/>: always for <see cref="KeyScope.Admin"/>, and for
    /// <see cref="KeyScope.Read"/> only when READ_API_KEYS is set. A missing or wrong key gets 401 problem+json.
    /// </summary>
    public static TBuilder RequireApiKey<TBuilder>(this TBuilder builder, KeyScope scope) where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(endpoint =>
        {
            var inner = endpoint.RequestDelegate!;
            endpoint.RequestDelegate = async context =>
            {
                var keys = context.RequestServices.GetRequiredService<ApiKeyRing>();
                var required = scope == KeyScope.Admin || (scope == KeyScope.Read && keys.ReadersRequireKey);
                if (required && keys.Authenticate(ApiKeyRing.Presented(context.Request), scope) is null)
                {
                    await UnauthorizedAsync(context, scope == KeyScope.Admin ? "an admin key (ADMIN_API_KEYS)" : "a read key (READ_API_KEYS) or an admin key");
                    return;
                }

                await inner(context);
            };
        });
        return builder;
    }

    /// <summary>401 with a body that says which header to send, never which keys exist.</summary>
    public static Task UnauthorizedAsync(HttpContext context, string needed)
    {
        context.RequestServices.GetRequiredService<IngestMetrics>().OnRejected(RejectReason.Unauthorized);
        context.Response.Headers.WWWAuthenticate = "Bearer realm=\"hermes\"";
        var presented = ApiKeyRing.Presented(context.Request) is null ? "No API key was sent" : "The API key is not valid for this endpoint";
        return Problem.WriteAsync(context, StatusCodes.Status401Unauthorized, "unauthorized", "API key required",
            $"{presented}. Send {needed} as 'X-Api-Key: <key>' or 'Authorization: Bearer <key>'.", "X-Api-Key", "api-key");
    }

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

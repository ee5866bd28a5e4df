using Hermes.Ingest.Security;
using Hermes.Ingest.Telemetry;

namespace Hermes.Ingest.Apis;

/// <summary>
/// The API key check in front of every endpoint that needs one: a missing or wrong key gets 401 problem+json that says
/// which key to send and how, never which keys exist, and is counted (<c>reason="unauthorized"</c>).
/// </summary>
public sealed class ApiKeyCheck(ApiKeyRing keys, IngestMetrics metrics)
{
    /// <summary>The producer's key label (<c>anonymous</c> when no API_KEYS are set), or null after answering 401.</summary>
    public async ValueTask<string?> AuthenticateProducerAsync(HttpContext context)
    {
        if (!keys.ProducersRequireKey)
        {
            return IngestMetrics.AnonymousKey;
        }

        if (keys.Authenticate(ApiKeyRing.Presented(context.Request), KeyScope.Produce) is { } label)
        {
            return label;
        }

        await UnauthorizedAsync(context, "a producer key (API_KEYS)");
        return null;
    }

    /// <summary>
    /// The Segment endpoints' check: the same producer keys and labels, presented as the write key (HTTP Basic user
    /// name, empty password) or as on <c>/events</c>. The label, or null after answering 401.
    /// </summary>
    public async ValueTask<string?> AuthenticateWriteKeyAsync(HttpContext context)
    {
        if (!keys.ProducersRequireKey)
        {
            return IngestMetrics.AnonymousKey;
        }

        var presented = ApiKeyRing.PresentedWriteKey(context.Request);
        if (keys.Authenticate(presented, KeyScope.Produce) is { } label)
        {
            return label;
        }

        metrics.OnRejected(RejectReason.Unauthorized);
        context.Response.Headers.WWWAuthenticate = "Basic realm=\"hermes\"";
        await Problems.UnauthorizedWriteKey(keyPresented: presented is not null).WriteAsync(context);
        return null;
    }

    /// <summary>
    /// True when the request may go on: always needs a key for <see cref="KeyScope.Admin"/>, and for
    /// <see cref="KeyScope.Read"/> only when READ_API_KEYS is set. Otherwise answers 401 and returns false.
    /// </summary>
    public async ValueTask<bool> AuthorizeAsync(HttpContext context, KeyScope scope)
    {
        var required = scope == KeyScope.Admin || (scope == KeyScope.Read && keys.ReadersRequireKey);
        if (!required || keys.Authenticate(ApiKeyRing.Presented(context.Request), scope) is not null)
        {
            return true;
        }

        await UnauthorizedAsync(context, scope == KeyScope.Admin ? "an admin key (ADMIN_API_KEYS)" : "a read key (READ_API_KEYS) or an admin key");
        return false;
    }

    private Task UnauthorizedAsync(HttpContext context, string needed)
    {
        metrics.OnRejected(RejectReason.Unauthorized);
        context.Response.Headers.WWWAuthenticate = "Bearer realm=\"hermes\"";
        return Problems.Unauthorized(keyPresented: ApiKeyRing.Presented(context.Request) is not null, needed).WriteAsync(context);
    }
}

public static class ApiKeyEndpoints
{
    /// <summary>Puts <see cref="ApiKeyCheck"/> with <paramref name="scope"/> in front of the endpoints.</summary>
    public static TBuilder RequireApiKey<TBuilder>(this TBuilder builder, KeyScope scope) where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(endpoint =>
        {
            // Resolved once, when the endpoint is built; each request then costs one check.
            var check = endpoint.ApplicationServices.GetRequiredService<ApiKeyCheck>();
            var inner = endpoint.RequestDelegate!;
            endpoint.RequestDelegate = async context =>
            {
                if (await check.AuthorizeAsync(context, scope))
                {
                    await inner(context);
                }
            };
        });
        return builder;
    }
}

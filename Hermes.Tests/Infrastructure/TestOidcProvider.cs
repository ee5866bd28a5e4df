using System.Collections.Concurrent;
using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Hermes.Tests.Infrastructure;

/// <summary>
/// A small OpenID Connect provider on loopback, for the dashboard's real OpenID Connect handler to sign in against:
/// discovery, JWKS, an authorization endpoint that approves at once and answers with form_post (as Entra ID does),
/// and a token endpoint that redeems the code for an RS256-signed id_token carrying the request's nonce.
/// </summary>
public sealed class TestOidcProvider : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly RsaSecurityKey _key = new(RSA.Create(2048)) { KeyId = "hermes-test" };
    private readonly ConcurrentDictionary<string, string> _nonceByCode = new();

    private TestOidcProvider(WebApplication app) => _app = app;

    /// <summary>The issuer, with no trailing slash: the dashboard's OIDC_AUTHORITY.</summary>
    public string Authority { get; private set; } = "";

    public string ClientId { get; } = "hermes-dashboard";

    public string UserName { get; } = "Ada Lovelace";

    /// <summary>The redirect_uri of every authorization request, as the dashboard built it.</summary>
    public ConcurrentQueue<string> RedirectUris { get; } = new();

    public static async Task<TestOidcProvider> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var provider = new TestOidcProvider(builder.Build());
        provider.Map(provider._app);
        await provider._app.StartAsync();
        provider.Authority = provider._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single().TrimEnd('/');
        return provider;
    }

    private void Map(WebApplication app)
    {
        app.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = Authority,
            ["authorization_endpoint"] = Authority + "/authorize",
            ["token_endpoint"] = Authority + "/token",
            ["jwks_uri"] = Authority + "/jwks",
            ["response_types_supported"] = new[] { "code" },
            ["response_modes_supported"] = new[] { "form_post", "query" },
            ["subject_types_supported"] = new[] { "public" },
            ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        }));

        app.MapGet("/jwks", () =>
        {
            var parameters = _key.Rsa.ExportParameters(includePrivateParameters: false);
            return Results.Json(new
            {
                keys = new[]
                {
                    new { kty = "RSA", use = "sig", alg = "RS256", kid = _key.KeyId, n = Base64UrlEncoder.Encode(parameters.Modulus), e = Base64UrlEncoder.Encode(parameters.Exponent) },
                },
            });
        });

        // Approves at once and posts the code back to the client, the way a provider's consent page does.
        app.MapGet("/authorize", (HttpRequest request) =>
        {
            var query = request.Query;
            if (query["client_id"] != ClientId || query["response_type"] != "code")
            {
                return Results.BadRequest("unknown client or response type");
            }

            var code = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
            _nonceByCode[code] = query["nonce"].ToString();
            RedirectUris.Enqueue(query["redirect_uri"].ToString());
            var html = $"""
                <html><body onload="document.forms[0].submit()">
                <form method="post" action="{WebUtility.HtmlEncode(query["redirect_uri"])}">
                <input type="hidden" name="code" value="{code}" />
                <input type="hidden" name="state" value="{WebUtility.HtmlEncode(query["state"])}" />
                </form></body></html>
                """;
            return Results.Content(html, "text/html");
        });

        app.MapPost("/token", async (HttpRequest request) =>
        {
            var form = await request.ReadFormAsync();
            if (form["grant_type"] != "authorization_code" || !_nonceByCode.TryRemove(form["code"].ToString(), out var nonce))
            {
                return Results.Json(new { error = "invalid_grant" }, statusCode: 400);
            }

            var now = DateTime.UtcNow;
            var idToken = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
            {
                Issuer = Authority,
                Audience = ClientId,
                IssuedAt = now,
                NotBefore = now,
                Expires = now.AddMinutes(5),
                Subject = new ClaimsIdentity([new Claim("sub", "user-1"), new Claim("name", UserName), new Claim("nonce", nonce)]),
                SigningCredentials = new SigningCredentials(_key, SecurityAlgorithms.RsaSha256),
            });
            return Results.Json(new { access_token = "unused", token_type = "Bearer", expires_in = 300, id_token = idToken });
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _key.Rsa.Dispose();
    }
}

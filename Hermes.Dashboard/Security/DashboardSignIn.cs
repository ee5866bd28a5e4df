using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Hermes.Dashboard.Configuration;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Authorization;

namespace Hermes.Dashboard.Security;

public enum SignInMode
{
    /// <summary>No sign-in: a local run whose ingest serves counts to anyone.</summary>
    Open,

    /// <summary>A shared access key typed into <c>/signin</c>, then a cookie (the Aspire dashboard's browser token, as a form).</summary>
    AccessKey,

    /// <summary>Microsoft Entra ID or any OpenID Connect provider, then a cookie.</summary>
    OpenIdConnect,
}

/// <summary>
/// Who may see the dashboard. Sign-in is required whenever ingest's counts are protected (the dashboard holds a read
/// key, <c>INGEST_API_KEY</c>: always so in a deployment) or a sign-in method is configured; then every page, the
/// Blazor circuit (<c>/_blazor</c>) and <c>/export/aggregates.csv</c> need a signed-in user, and only the sign-in page,
/// static assets (CSS and scripts, no data) and <c>/health</c>, <c>/alive</c> stay open. Otherwise, a local run, the
/// dashboard is as open as the ingest it reads.
/// </summary>
public sealed class DashboardSignInOptions
{
    private byte[]? _accessKeyDigest;

    public SignInMode Mode { get; private init; }

    /// <summary>Why sign-in is on or off, for the startup log.</summary>
    public string Reason { get; private init; } = "";

    public string? Authority { get; private init; }

    public string? ClientId { get; private init; }

    public string? ClientSecret { get; private init; }

    /// <summary>Compares a presented key with the configured one in constant time (SHA-256 digests, so lengths leak nothing either).</summary>
    public bool AccessKeyMatches(string? presented) =>
        _accessKeyDigest is not null && presented is not null
        && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), _accessKeyDigest);

    /// <summary>The sign-in part of <see cref="DashboardSettings"/>, already validated by its loader.</summary>
    public static DashboardSignInOptions From(DashboardSettings settings)
    {
        var required = settings.IngestApiKey is not null || settings.AccessKey is not null || settings.Authority is not null;
        return new DashboardSignInOptions
        {
            Mode = settings.Authority is not null ? SignInMode.OpenIdConnect : settings.AccessKey is not null ? SignInMode.AccessKey : SignInMode.Open,
            Reason = settings.IngestApiKey is not null ? "ingest's counts need a read key (INGEST_API_KEY)" : required ? "a sign-in method is configured" : "no read key, access key or OpenID Connect provider is configured",
            _accessKeyDigest = settings.AccessKey is null ? null : SHA256.HashData(Encoding.UTF8.GetBytes(settings.AccessKey)),
            Authority = settings.Authority,
            ClientId = settings.ClientId,
            ClientSecret = settings.ClientSecret,
        };
    }
}

public static partial class DashboardSignIn
{
    /// <summary>The page that takes the access key.</summary>
    public const string Path = "/signin";

    public const string CookieName = "hermes-dashboard";

    /// <summary>Registers the cookie (and OpenID Connect) handlers and, when sign-in is required, a fallback policy that every endpoint without its own rule must pass.</summary>
    public static IHostApplicationBuilder AddDashboardSignIn(this IHostApplicationBuilder builder)
    {
        var options = DashboardSignInOptions.From(builder.AddDashboardSettings());
        builder.Services.AddSingleton(options);

        var authentication = builder.Services.AddAuthentication(auth =>
        {
            auth.DefaultScheme = CookieAuthenticationDefaults.AuthenticationScheme;
            auth.DefaultChallengeScheme = options.Mode == SignInMode.OpenIdConnect
                ? OpenIdConnectDefaults.AuthenticationScheme
                : CookieAuthenticationDefaults.AuthenticationScheme;
        });
        authentication.AddCookie(cookie =>
        {
            cookie.LoginPath = Path;
            cookie.Cookie.Name = CookieName;
            // Not readable from scripts; sent on top-level navigations from other sites (the provider's redirect back)
            // but not on their subrequests or POSTs; Secure whenever the request came over TLS, which behind Container
            // Apps' ingress it did (X-Forwarded-Proto, honoured with ASPNETCORE_FORWARDEDHEADERS_ENABLED=true).
            cookie.Cookie.HttpOnly = true;
            cookie.Cookie.SameSite = SameSiteMode.Lax;
            cookie.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            cookie.ExpireTimeSpan = TimeSpan.FromHours(12);
            cookie.SlidingExpiration = true;
        });

        if (options.Mode == SignInMode.OpenIdConnect)
        {
            authentication.AddOpenIdConnect(oidc =>
            {
                oidc.Authority = options.Authority;
                oidc.ClientId = options.ClientId;
                oidc.ClientSecret = options.ClientSecret;
                oidc.ResponseType = "code";     // authorization code with PKCE (the handler's default)
                oidc.RequireHttpsMetadata = options.Authority!.StartsWith("https:", StringComparison.OrdinalIgnoreCase);
                oidc.MapInboundClaims = false;
                oidc.TokenValidationParameters.NameClaimType = "name";
                oidc.SaveTokens = false;        // the dashboard calls no API as the user; keep the cookie small
            });
        }

        builder.Services.AddAuthorization(authorization =>
        {
            if (options.Mode != SignInMode.Open)
            {
                authorization.FallbackPolicy = new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build();
            }
        });

        return builder;
    }

    /// <summary>Authentication and authorization, before antiforgery (which needs to know the user).</summary>
    public static WebApplication UseDashboardSignIn(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<DashboardSignInOptions>();
        LogMode(app.Logger, options.Mode, options.Reason);
        app.UseAuthentication();
        app.UseAuthorization();
        return app;
    }

    /// <summary>Signs the browser in with the cookie, for a correct access key.</summary>
    public static Task SignInWithAccessKeyAsync(this HttpContext context) =>
        context.SignInAsync(
            CookieAuthenticationDefaults.AuthenticationScheme,
            new ClaimsPrincipal(new ClaimsIdentity([new Claim("name", "access key")], "access-key", "name", null)));

    /// <summary>Only a path on this site: an absolute or protocol-relative ReturnUrl would make /signin an open redirect.</summary>
    public static string LocalReturnUrl(string? returnUrl) =>
        returnUrl is ['/', not '/' and not '\\', ..] or "/" ? returnUrl : "/";

    [LoggerMessage(Level = LogLevel.Information, Message = "Dashboard sign-in: {Mode} ({Reason})")]
    private static partial void LogMode(ILogger logger, SignInMode mode, string reason);
}

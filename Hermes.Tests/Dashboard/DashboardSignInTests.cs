using System.Net;
using System.Text.RegularExpressions;
using Hermes.Tests.Browser;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Dashboard;

/// <summary>
/// The dashboard's sign-in at the HTTP level: what stays open, the form's CSRF protection, the cookie behind a
/// TLS-terminating ingress, OpenID Connect against a real provider protocol, and the settings that cannot work.
/// </summary>
public sealed partial class DashboardSignInTests
{
    private const string AccessKey = DashboardSignInBrowserTests.AccessKey;

    /// <summary>A dashboard whose ingest requires a read key (ingest itself need not be up for these).</summary>
    private static DashboardHost Protected(Dictionary<string, string>? settings = null)
    {
        var all = new Dictionary<string, string> { ["DASHBOARD_ACCESS_KEY"] = AccessKey };
        foreach (var (key, value) in settings ?? [])
        {
            all[key] = value;
        }

        return new DashboardHost($"http://127.0.0.1:{Ports.Free()}", DashboardSignInBrowserTests.ReadKey, all);
    }

    [Fact]
    public async Task Probes_static_assets_and_the_sign_in_page_stay_open_and_nothing_else_does()
    {
        await using var dashboard = Protected();
        using var client = new FormClient(dashboard.Start());

        var signIn = await client.GetAsync("/signin");
        Assert.Equal(HttpStatusCode.OK, signIn.Status);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).Status);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/alive")).Status);
        var stylesheet = Stylesheet().Match(signIn.Body);
        Assert.True(stylesheet.Success, signIn.Body);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/" + stylesheet.Groups[1].Value)).Status);

        foreach (var path in new[] { "/", "/export/aggregates.csv", "/export/aggregates.csv?type=song_played&minutes=60" })
        {
            var refused = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.Redirect, refused.Status);
            Assert.StartsWith("/signin?ReturnUrl=", refused.Location!.PathAndQuery);
            Assert.DoesNotContain("minute_unix", refused.Body);
        }

        var circuit = await client.PostAsync("/_blazor/negotiate?negotiateVersion=1", []);
        Assert.NotEqual(HttpStatusCode.OK, circuit.Status);
    }

    [Fact]
    public async Task The_sign_in_form_refuses_a_post_without_its_antiforgery_token()
    {
        await using var dashboard = Protected();
        using var client = new FormClient(dashboard.Start());
        await client.GetAsync("/signin");

        // Another site posting the right key for a victim's browser has no token to send.
        var forged = await client.PostAsync("/signin", new() { ["_handler"] = "signin", ["Key"] = AccessKey });

        Assert.Equal(HttpStatusCode.BadRequest, forged.Status);
        Assert.False(client.HasCookie("hermes-dashboard"));
    }

    [Fact]
    public async Task A_wrong_key_gets_401_and_no_session_and_the_right_one_a_session_cookie()
    {
        await using var dashboard = Protected();
        using var client = new FormClient(dashboard.Start());

        var wrong = await client.SubmitSignInAsync("/signin?ReturnUrl=%2F", "not-the-key-0123456789abcdef");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.Status);
        Assert.Contains("signin-refused", wrong.Body);
        Assert.False(client.HasCookie("hermes-dashboard"));

        var right = await client.SubmitSignInAsync("/signin?ReturnUrl=%2Fexport%2Faggregates.csv", AccessKey);
        Assert.Equal(HttpStatusCode.Redirect, right.Status);
        Assert.Equal(client.Resolve("/export/aggregates.csv"), client.Resolve(right.Location!));
        var cookie = Assert.Single(right.SetCookies, c => c.StartsWith("hermes-dashboard=", StringComparison.Ordinal));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("secure", cookie, StringComparison.OrdinalIgnoreCase);   // plain http: a local run
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/export/aggregates.csv")).Status);
    }

    [Theory]
    [InlineData("https://evil.example/")]
    [InlineData("//evil.example/")]
    [InlineData("/\\evil.example/")]
    public async Task After_sign_in_the_return_address_stays_on_this_site(string returnUrl)
    {
        await using var dashboard = Protected();
        using var client = new FormClient(dashboard.Start());

        var signedIn = await client.SubmitSignInAsync("/signin?ReturnUrl=" + Uri.EscapeDataString(returnUrl), AccessKey);

        Assert.Equal(HttpStatusCode.Redirect, signedIn.Status);
        Assert.Equal(client.Resolve("/"), client.Resolve(signedIn.Location!));
    }

    [Fact]
    public async Task Behind_a_TLS_terminating_ingress_the_session_cookie_is_secure()
    {
        // Container Apps ends TLS at its ingress and forwards plain HTTP with X-Forwarded-Proto: https; the AppHost
        // sets ASPNETCORE_FORWARDEDHEADERS_ENABLED=true on the deployed dashboard so that header is honoured.
        await using var dashboard = Protected(new() { ["ForwardedHeaders_Enabled"] = "true" });
        using var client = new FormClient(dashboard.Start(), forwardedProto: "https");

        var signedIn = await client.SubmitSignInAsync("/signin", AccessKey);

        Assert.Equal(HttpStatusCode.Redirect, signedIn.Status);
        var cookie = Assert.Single(signedIn.SetCookies, c => c.StartsWith("hermes-dashboard=", StringComparison.Ordinal));
        Assert.Contains("; secure", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task OpenID_Connect_sends_the_browser_to_the_provider_and_signs_it_in_with_the_code()
    {
        await using var provider = await TestOidcProvider.StartAsync();
        await using var dashboard = new DashboardHost($"http://127.0.0.1:{Ports.Free()}", DashboardSignInBrowserTests.ReadKey, new()
        {
            ["OIDC_AUTHORITY"] = provider.Authority,
            ["OIDC_CLIENT_ID"] = provider.ClientId,
            ["ForwardedHeaders_Enabled"] = "true",
        });
        var url = dashboard.Start();
        using var client = new FormClient(url, forwardedProto: "https");

        // Signed out: straight to the provider's authorization endpoint, with PKCE and a redirect back over https.
        var challenge = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.Redirect, challenge.Status);
        Assert.StartsWith(provider.Authority + "/authorize?", challenge.Location!.ToString());
        Assert.Contains("code_challenge=", challenge.Location.Query);

        // The provider approves and posts the code back (form_post), as a browser would carry it.
        using var toProvider = new HttpClient();
        var consent = await toProvider.GetStringAsync(challenge.Location, TestContext.Current.CancellationToken);
        Assert.Equal($"https://127.0.0.1:{url.Port}/signin-oidc", Assert.Single(provider.RedirectUris));
        var fields = FormClient.HiddenFields(consent);
        var callback = await client.PostAsync("/signin-oidc", fields);

        Assert.Equal(HttpStatusCode.Redirect, callback.Status);
        var cookie = Assert.Single(callback.SetCookies, c => c.StartsWith("hermes-dashboard=", StringComparison.Ordinal));
        Assert.Contains("; secure", cookie, StringComparison.OrdinalIgnoreCase);
        var page = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.DoesNotContain("signin-page", page.Body);
    }

    [Theory]
    [InlineData(new[] { "INGEST_API_KEY", "dashboard-read-0123456789abcdef" }, "INGEST_API_KEY is set", null)]
    [InlineData(new[] { "INGEST_API_KEY", "dashboard-read-0123456789abcdef", "DASHBOARD_ACCESS_KEY", "short-secret" }, "DASHBOARD_ACCESS_KEY=(redacted) is invalid", "short-secret")]
    [InlineData(new[] { "OIDC_AUTHORITY", "http://login.example/tenant" }, "OIDC_AUTHORITY=http://login.example/tenant is invalid", null)]
    [InlineData(new[] { "OIDC_AUTHORITY", "https://login.example/tenant" }, "OIDC_CLIENT_ID is missing", null)]
    public async Task A_sign_in_setting_that_cannot_work_stops_startup_with_exit_code_2(string[] settings, string message, string? secret)
    {
        var environment = new Dictionary<string, string> { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{Ports.Free()}" };
        for (var i = 0; i < settings.Length; i += 2)
        {
            environment[settings[i]] = settings[i + 1];
        }

        await using var dashboard = HermesProcess.Start(environment, dll: Path.Combine(AppContext.BaseDirectory, "Hermes.Dashboard.dll"));
        var exitCode = await dashboard.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(2, exitCode);
        Assert.Contains(message, dashboard.StandardError);
        if (secret is not null)
        {
            Assert.DoesNotContain(secret, dashboard.StandardError + dashboard.StandardOutput);
        }
    }

    [Fact]
    public async Task A_local_dashboard_whose_ingest_needs_no_read_key_stays_open()
    {
        await using var dashboard = new DashboardHost($"http://127.0.0.1:{Ports.Free()}");
        using var client = new FormClient(dashboard.Start());

        var page = await client.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.DoesNotContain("signin-page", page.Body);
    }

    [GeneratedRegex("""<link rel="stylesheet" href="([^"]*app[^"]*\.css)"\s*/?>""")]
    private static partial Regex Stylesheet();
}

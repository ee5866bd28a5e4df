using System.Net;
using System.Text.RegularExpressions;
using Hermes.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Hermes.Tests.Browser;

/// <summary>
/// A dashboard whose ingest requires read keys (as every deployment's does) lets nobody in without signing in: in
/// real Chromium, signed out there is only the sign-in page, a wrong key is refused, the right key shows the live page.
/// </summary>
[NeedsChromium]
public sealed class DashboardSignInBrowserTests
{
    public const string ReadKey = "dashboard-read-0123456789abcdef";
    public const string AccessKey = "dashboard-access-0123456789abcdef";
    private static readonly LocatorAssertionsToHaveTextOptions Soon = new() { Timeout = 15_000 };

    [Fact]
    public async Task Signed_out_there_is_no_data_a_wrong_key_is_refused_and_the_right_key_shows_the_live_page()
    {
        // Arrange: ingest requiring a read key, holding 7 events; the dashboard with that read key and an access key.
        await using var ingest = new HermesFactory(new() { ["READ_API_KEYS"] = $"dashboard:{ReadKey}" });
        var producer = ingest.Start();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using (var posted = await producer.PostAsync("/events/batch", Events.Array(Enumerable.Range(0, 7).Select(i => Events.Json($"in-{i}", "song_played", now))), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
        }

        await using var dashboard = new DashboardHost(producer.BaseAddress!.ToString().TrimEnd('/'), ReadKey, new() { ["DASHBOARD_ACCESS_KEY"] = AccessKey });
        var url = dashboard.Start();
        var (playwright, browser) = await Chromium.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 900 }, ColorScheme = ColorScheme.Dark });
        var webSockets = new List<string>();
        page.WebSocket += (_, socket) => webSockets.Add(socket.Url);

        // Signed out: the page redirects to the sign-in page, which holds no counts and opens no circuit.
        await page.GotoAsync(url.ToString());
        await Expect(page).ToHaveURLAsync(new Regex(@"/signin\?ReturnUrl=%2F$"));
        await Expect(page.GetByTestId("signin-page")).ToBeVisibleAsync();
        await Expect(page.GetByTestId("accepted")).ToHaveCountAsync(0);
        Assert.DoesNotContain("song_played", await page.ContentAsync());
        var signInPage = await page.ScreenshotAsync(new() { Path = Chromium.ArtifactPath("dashboard-signin.png"), FullPage = true });
        TestContext.Current.AddAttachment("dashboard-signin.png", signInPage, "image/png");

        // Nor does anything else the dashboard serves: the CSV export and the Blazor circuit refuse a signed-out browser.
        var csv = await page.APIRequest.GetAsync(new Uri(url, "export/aggregates.csv").ToString(), new() { MaxRedirects = 0 });
        Assert.Equal(302, csv.Status);
        Assert.Contains("/signin", csv.Headers["location"]);
        var negotiate = await page.APIRequest.PostAsync(new Uri(url, "_blazor/negotiate?negotiateVersion=1").ToString(), new() { MaxRedirects = 0 });
        Assert.NotEqual(200, negotiate.Status);
        Assert.DoesNotContain(webSockets, u => u.Contains("_blazor", StringComparison.Ordinal));

        // A wrong key is refused: the page says so and no session cookie is set.
        await page.GetByTestId("access-key").FillAsync("not-the-key-0123456789abcdef");
        await page.GetByTestId("signin").ClickAsync();
        await Expect(page.GetByTestId("signin-refused")).ToBeVisibleAsync();
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == "hermes-dashboard");
        await page.GotoAsync(url.ToString());
        await Expect(page).ToHaveURLAsync(new Regex("/signin"));

        // The right key: back to the page asked for, live, with ingest's counts.
        await page.GetByTestId("access-key").FillAsync(AccessKey);
        await page.GetByTestId("signin").ClickAsync();
        await Expect(page).ToHaveURLAsync(url.ToString());
        await Expect(page.GetByTestId("status-pill")).ToContainTextAsync("Live", new() { Timeout = 15_000 });
        await Expect(page.GetByTestId("accepted")).ToHaveTextAsync("7", Soon);
        await Expect(page.GetByTestId("total-song_played")).ToHaveTextAsync("7", Soon);
        var cookie = Assert.Single(await page.Context.CookiesAsync(), c => c.Name == "hermes-dashboard");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Lax, cookie.SameSite);

        // Signed in, the export answers too.
        var signedInCsv = await page.APIRequest.GetAsync(new Uri(url, "export/aggregates.csv").ToString(), new() { MaxRedirects = 0 });
        Assert.Equal(200, signedInCsv.Status);
        Assert.Contains("song_played", await signedInCsv.TextAsync());
    }
}

using System.Net;
using Hermes.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Hermes.Tests.Browser;

/// <summary>
/// End to end in real Chromium: ingest as its own OS process (so it can be killed and restarted on the same port),
/// the dashboard in process on Kestrel, the page driven over its Blazor circuit.
/// </summary>
public sealed class DashboardBrowserTests
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private static readonly LocatorAssertionsToHaveTextOptions Soon = new() { Timeout = 15_000 };

    [Fact]
    public async Task Page_shows_posted_events_then_the_outage_banner_then_recovers()
    {
        // Arrange: ingest on a fixed port, the dashboard pointed at it, Chromium on the page.
        var port = Ports.Free();
        var ingestUrl = $"http://127.0.0.1:{port}";
        using var producer = new HttpClient { BaseAddress = new Uri(ingestUrl) };
        var ingest = await StartIngestAsync(port, producer);
        await using var dashboard = new DashboardHost(ingestUrl);
        var dashboardUrl = dashboard.Start();
        var (playwright, browser) = await Chromium.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 1000 }, ColorScheme = ColorScheme.Dark });
        var pageErrors = new List<string>();
        page.PageError += (_, error) => pageErrors.Add(error);

        try
        {
            await page.GotoAsync(dashboardUrl.ToString());
            await Expect(page).ToHaveTitleAsync("Hermes");
            await Expect(page.Locator("header h1")).ToContainTextAsync("Hermes");

            // No events yet: the friendly empty state with a curl line aimed at this ingest.
            await Expect(page.GetByTestId("curl")).ToContainTextAsync($"curl -X POST {ingestUrl}/events", new() { Timeout = 15_000 });

            // Act: a producer posts 30 song_played, 12 ad_clicked and one invalid event.
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var batch = Enumerable.Range(0, 30).Select(i => Events.Json($"s-{i}", "song_played", now))
                .Concat(Enumerable.Range(0, 12).Select(i => Events.Json($"a-{i}", "ad_clicked", now)))
                .Append(Events.Json("bad", "no_such_type", now));
            using (var response = await producer.PostAsync("/events/batch", Events.Array(batch), TestContext.Current.CancellationToken))
            {
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            }

            // Assert: the numbers arrive on the page without a reload.
            await Expect(page.GetByTestId("accepted")).ToHaveTextAsync("42", Soon);
            await Expect(page.GetByTestId("total-song_played")).ToHaveTextAsync("30", Soon);
            await Expect(page.GetByTestId("total-ad_clicked")).ToHaveTextAsync("12", Soon);
            await Expect(page.GetByTestId("rejected-invalid")).ToHaveTextAsync("1", Soon);
            await Expect(page.GetByTestId("legend").Locator("li")).ToHaveCountAsync(2);
            await Expect(page.GetByTestId("empty-state")).ToHaveCountAsync(0);
            await Expect(page.GetByTestId("status-pill")).ToContainTextAsync("Live");
            var screenshot = await page.ScreenshotAsync(new() { Path = Chromium.ArtifactPath("dashboard.png"), FullPage = true });
            TestContext.Current.AddAttachment("dashboard.png", screenshot, "image/png");

            // Ingest goes away: the banner appears and the last data stays, greyed.
            await ingest.DisposeAsync();
            await Expect(page.GetByTestId("unreachable-banner")).ToBeVisibleAsync(new() { Timeout = 15_000 });
            await Expect(page.GetByTestId("content")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex(@"\bstale\b"));
            await Expect(page.GetByTestId("total-song_played")).ToHaveTextAsync("30");
            var outage = await page.ScreenshotAsync(new() { Path = Chromium.ArtifactPath("dashboard-unreachable.png"), FullPage = true });
            TestContext.Current.AddAttachment("dashboard-unreachable.png", outage, "image/png");

            // Ingest returns on the same address: the page recovers by itself and shows the new process's events.
            ingest = await StartIngestAsync(port, producer);
            await Expect(page.GetByTestId("unreachable-banner")).ToHaveCountAsync(0, new() { Timeout = 15_000 });
            await Expect(page.GetByTestId("status-pill")).ToContainTextAsync("Live");
            using (var response = await producer.PostAsync("/events", Events.Body(Events.Json("t-1", "trip_started", DateTimeOffset.UtcNow.ToUnixTimeSeconds())), TestContext.Current.CancellationToken))
            {
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            }

            await Expect(page.GetByTestId("total-trip_started")).ToHaveTextAsync("1", Soon);
            await Expect(page.GetByTestId("content")).Not.ToHaveClassAsync(new System.Text.RegularExpressions.Regex(@"\bstale\b"));
            Assert.Empty(pageErrors);
        }
        finally
        {
            await ingest.DisposeAsync();
        }
    }

    [Fact]
    public async Task Csv_download_holds_the_counts_shown_on_the_page()
    {
        var port = Ports.Free();
        var ingestUrl = $"http://127.0.0.1:{port}";
        using var producer = new HttpClient { BaseAddress = new Uri(ingestUrl) };
        await using var ingest = await StartIngestAsync(port, producer);
        await using var dashboard = new DashboardHost(ingestUrl);
        var dashboardUrl = dashboard.Start();
        var (playwright, browser) = await Chromium.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await browser.NewPageAsync(new() { AcceptDownloads = true });
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using (var response = await producer.PostAsync("/events/batch", Events.Array(Enumerable.Range(0, 7).Select(i => Events.Json($"l-{i}", "location_update", now))), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await page.GotoAsync(dashboardUrl.ToString());
        await Expect(page.GetByTestId("total-location_update")).ToHaveTextAsync("7", Soon);

        await page.GetByTestId("filter-type").SelectOptionAsync("location_update");
        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByTestId("csv").ClickAsync());
        var path = await download.PathAsync();

        var lines = await File.ReadAllLinesAsync(path, TestContext.Current.CancellationToken);
        Assert.Equal("type,minute_unix,minute_utc,count", lines[0]);
        Assert.Equal($"location_update,{now - (now % 60)},", lines[1][..(lines[1].IndexOf(',', 16) + 1)]);
        Assert.EndsWith(",7", lines[1], StringComparison.Ordinal);
        Assert.Equal(2, lines.Length);
    }

    private static async Task<HermesProcess> StartIngestAsync(int port, HttpClient client)
    {
        var ingest = HermesProcess.Start(new() { ["HTTP_ADDR"] = $"127.0.0.1:{port}" });
        var deadline = DateTime.UtcNow + Startup;
        while (true)
        {
            try
            {
                using var response = await client.GetAsync("/alive");
                if (response.IsSuccessStatusCode)
                {
                    return ingest;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                await ingest.DisposeAsync();
                throw new TimeoutException($"Ingest did not come up on port {port}: {ingest.StandardError}");
            }

            await Task.Delay(100);
        }
    }
}

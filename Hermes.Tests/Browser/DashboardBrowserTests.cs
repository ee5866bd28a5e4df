using System.Net;
using Hermes.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Hermes.Tests.Browser;

/// <summary>
/// End to end in real Chromium: ingest as its own OS process (so it can be killed and restarted on the same port),
/// the dashboard in process on Kestrel, the page driven over its Blazor circuit.
/// </summary>
[NeedsChromium]
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
    [NeedsPostgresServer] // the dashboard shows the database card filled in
    public async Task At_1440_and_420_pixels_the_page_reads_without_wrapped_cards_empty_bands_hidden_rows_or_clipping()
    {
        // Arrange: ingest on PostgreSQL (so the sixth card, the database's, is there) with 41 minutes of four types.
        var ct = TestContext.Current.CancellationToken;
        await using var postgres = await PostgresServer.StartAsync();
        using var spill = new TempDirectory("spill");
        var port = Ports.Free();
        var ingestUrl = $"http://127.0.0.1:{port}";
        using var producer = new HttpClient { BaseAddress = new Uri(ingestUrl) };
        await using var ingest = await StartIngestAsync(port, producer, new() { ["DB_DSN"] = await postgres.CreateDatabaseAsync(), ["SPILL_DIR"] = spill.Path });
        string[] types = ["ad_clicked", "location_update", "song_played", "trip_started"];
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        for (var minute = 0; minute <= 40; minute++)
        {
            var lines = types.SelectMany((type, t) => Enumerable.Range(0, ((minute + t) % 7 + 1) * 5)
                .Select(i => Events.Json($"{type}-{minute}-{i}", type, now - (minute * 60))));
            using var response = await producer.PostAsync("/events/batch?ack=durable", Events.Ndjson(lines), ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await using var dashboard = new DashboardHost(ingestUrl);
        var dashboardUrl = dashboard.Start();
        var (playwright, browser) = await Chromium.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1440, Height = 900 }, ColorScheme = ColorScheme.Dark });
        var pageErrors = new List<string>();
        var failed = new List<string>();
        page.PageError += (_, error) => pageErrors.Add(error);
        page.Response += (_, response) =>
        {
            if (response.Status >= 400)
            {
                failed.Add($"{response.Status} {response.Url}");
            }
        };

        await page.GotoAsync(dashboardUrl.ToString());
        await Expect(page.GetByTestId("source")).ToContainTextAsync("PostgreSQL rollups", new() { Timeout = 15_000 });
        // 56 or 60 rows: 15 minutes of four types, less one minute if the clock passed a minute since posting.
        await Expect(page.GetByTestId("rows-shown")).ToContainTextAsync(new System.Text.RegularExpressions.Regex("Showing 20 of (56|60) rows"), new() { Timeout = 15_000 });

        // The page is prerendered; clicks count only once the circuit is up, which the next second's update shows.
        var prerendered = await page.GetByTestId("updated").InnerTextAsync();
        await Expect(page.GetByTestId("updated")).Not.ToHaveTextAsync(prerendered, new() { Timeout = 15_000 });

        // 1440 px: six cards in one row.
        await Expect(page.Locator(".tile")).ToHaveCountAsync(6);
        var tops = await page.EvalOnSelectorAllAsync<double[]>(".tile", "tiles => tiles.map(t => Math.round(t.getBoundingClientRect().top))");
        Assert.Single(tops.Distinct());

        // The chart fills its panel: the legend ends where the panel's padding begins, whatever the side column holds.
        var gap = await page.EvaluateAsync<double>(
            "() => document.querySelector('.panel.chart').getBoundingClientRect().bottom - document.querySelector('[data-testid=legend]').getBoundingClientRect().bottom");
        Assert.InRange(gap, 0, 20);
        await Expect(page.Locator(".chart .xlabel").Last).ToHaveTextAsync("now");

        // One total per type at a glance: the legend and the table cover the same window, and follow the toggle.
        foreach (var window in new[] { "15", "60" })
        {
            await page.GetByTestId("window-" + window).ClickAsync();
            await Expect(page.GetByTestId("total-heading")).ToHaveTextAsync(window + " min");
            foreach (var type in types)
            {
                await Expect(page.GetByTestId("legend-total-" + type)).ToHaveTextAsync(await page.GetByTestId("total-" + type).InnerTextAsync());
            }
        }

        // No rows hidden in a scroll box: what is not shown is counted under the table.
        Assert.True(await page.EvalOnSelectorAsync<bool>(".table .scroll", "e => e.scrollHeight <= e.clientHeight"), "the aggregates table scrolls inside its box");
        await Expect(page.GetByTestId("aggregates").Locator("tbody tr")).ToHaveCountAsync(20);

        // The icon browsers ask for exists.
        var icon = await page.APIRequest.GetAsync(new Uri(dashboardUrl, "favicon.ico").ToString());
        Assert.Equal(200, icon.Status);
        Assert.Equal("image/x-icon", icon.Headers["content-type"]);
        await Expect(page.Locator("link[rel=icon]")).ToHaveAttributeAsync("href", "favicon.ico");
        await Attach(page, "dashboard-1440.png");

        // 420 px (a phone): nothing wider than the screen, and the per-type table fits its panel.
        await page.SetViewportSizeAsync(420, 900);
        await Expect(page.Locator("th.older").First).ToBeHiddenAsync();
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways at 420 px");
        var typeTable = await page.EvalOnSelectorAsync<double[]>("[data-testid=type-minutes]", "t => [t.scrollWidth, t.parentElement.clientWidth]");
        Assert.True(typeTable[0] <= typeTable[1], $"the per-type table is {typeTable[0]} px wide in a {typeTable[1]} px panel");
        await Attach(page, "dashboard-420.png");

        Assert.Empty(pageErrors);
        Assert.Empty(failed);

        static async Task Attach(IPage page, string name)
        {
            var screenshot = await page.ScreenshotAsync(new() { Path = Chromium.ArtifactPath(name), FullPage = true });
            TestContext.Current.AddAttachment(name, screenshot, "image/png");
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

    private static async Task<HermesProcess> StartIngestAsync(int port, HttpClient client, Dictionary<string, string>? settings = null)
    {
        var ingest = HermesProcess.Start(new(settings ?? []) { ["HTTP_ADDR"] = $"127.0.0.1:{port}" });
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

using System.Text.RegularExpressions;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Hermes.Tests.Browser;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;
using Microsoft.Playwright;
using Npgsql;
using static Microsoft.Playwright.Assertions;

namespace Hermes.Tests.AppHost;

/// <summary>
/// The full stack as `dotnet run --project Hermes.AppHost` starts it by default, sample producer included: without
/// anyone posting, events of all four types from many riders reach PostgreSQL, the persisted counts and the Hermes
/// dashboard.
/// </summary>
[NeedsAppHost]
[NeedsPostgreSql]
[NeedsChromium]
[Collection(AppHostCollection.Name)]
public sealed class SampleProducerTests(ITestOutputHelper output)
{
    [Fact]
    public async Task On_first_run_the_sample_producer_fills_the_stack_with_all_four_event_types()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await HermesStack.StartAsync(ingestReplicas: 1, ct, sampleProducer: true);
        await stack.App.ResourceNotifications.WaitForResourceAsync("sample-producer", KnownResourceStates.Running, ct).WaitAsync(HermesStack.StartTimeout, ct);
        await using var connection = new NpgsqlConnection(await stack.ConnectionStringAsync(ct));
        await connection.OpenAsync(ct).WaitAsync(HermesStack.StepTimeout, ct);

        // Rows of every type, from many riders, with the payloads the producer sends, timestamped now.
        var (types, riders, rows) = (0L, 0L, 0L);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline && (types < 4 || riders < 50))
        {
            await using (var count = new NpgsqlCommand(
                "SELECT count(DISTINCT type), count(DISTINCT user_id), count(*) FROM events WHERE ts > now() - interval '5 minutes'", connection))
            await using (var reader = await count.ExecuteReaderAsync(ct))
            {
                await reader.ReadAsync(ct);
                (types, riders, rows) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
            }

            await Task.Delay(500, ct);
        }

        output.WriteLine($"{rows} events from {riders} riders, {types} types");
        Assert.Equal(4, types);
        Assert.True(riders >= 50, $"{riders} riders");
        await using (var song = new NpgsqlCommand("SELECT payload->>'artist' FROM events WHERE type = 'song_played' LIMIT 1", connection))
        {
            Assert.False(string.IsNullOrEmpty((string?)await song.ExecuteScalarAsync(ct)));
        }

        // Stored once each, and counted in the rollups the Hermes dashboard reads.
        await using (var unique = new NpgsqlCommand("SELECT count(*) = count(DISTINCT (ts, id)) FROM events", connection))
        {
            Assert.True((bool)(await unique.ExecuteScalarAsync(ct))!);
        }

        using var ingest = stack.App.CreateHttpClient("ingest");
        var persisted = await ingest.GetStringAsync("/aggregates?source=db", ct).WaitAsync(HermesStack.StepTimeout, ct);
        foreach (var type in new[] { "trip_started", "song_played", "ad_clicked", "location_update" })
        {
            Assert.Contains($"\"{type}:", persisted, StringComparison.Ordinal);
        }

        // And the Hermes dashboard shows it, live: all four types on the chart (Chromium at 1440 px).
        var (playwright, browser) = await Chromium.LaunchAsync();
        using (playwright)
        await using (browser)
        {
            var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1440, Height = 900 }, ColorScheme = ColorScheme.Dark });
            await page.GotoAsync(stack.App.GetEndpoint("dashboard", "http").ToString());
            await Expect(page.GetByTestId("status-pill")).ToContainTextAsync("Live", new() { Timeout = 30_000 });
            foreach (var type in new[] { "trip_started", "song_played", "ad_clicked", "location_update" })
            {
                await Expect(page.GetByTestId("legend-total-" + type)).ToHaveTextAsync(new Regex("^[1-9]"), new() { Timeout = 30_000 });
            }

            var screenshot = await page.ScreenshotAsync(new() { Path = Chromium.ArtifactPath("dashboard-sample-producer.png"), FullPage = true });
            TestContext.Current.AddAttachment("dashboard-sample-producer.png", screenshot, "image/png");
        }

        var left = await stack.StopAsync();
        Assert.True(left.Count == 0, "Still running after stop: " + string.Join("; ", left));
    }
}

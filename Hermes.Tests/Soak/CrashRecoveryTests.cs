using System.Net;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;

namespace Hermes.Tests.Soak;

/// <summary>SIGKILL: what the process could not save is reported exactly on the next start; durable acks survive.</summary>
[Soak]
[NeedsPostgresServer]
[Collection(PostgresCollection.Name)]
public sealed class CrashRecoveryTests(SharedPostgres postgres)
{
    private const int SIGKILL = 9;

    [Fact]
    public async Task After_SIGKILL_the_next_start_reports_exactly_the_events_answered_202_but_not_stored()
    {
        var db = await postgres.Server.CreateDatabaseAsync();
        using var spill = new TempDirectory("spill");
        var settings = new Dictionary<string, string>
        {
            ["DB_DSN"] = db,
            ["SPILL_DIR"] = spill.Path,
            // Nothing flushes by itself: accepted events stay queued, at risk, until something expedites them.
            ["FLUSH_INTERVAL"] = "1h",
            ["BATCH_SIZE"] = "100000",
        };
        await using (var first = HermesProcess.Start(settings))
        {
            await first.WaitUntilAliveAsync(TimeSpan.FromSeconds(30));
            var durable = await first.Client.PostAsync("/events?ack=durable", Events.Body(Events.Json("crash-durable")), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, durable.StatusCode);
            for (var request = 0; request < 5; request++)
            {
                var batch = Events.Ndjson(Enumerable.Range(0, 100).Select(i => Events.Json($"crash-{request}-{i}")));
                Assert.Equal(HttpStatusCode.Accepted, (await first.Client.PostAsync("/events/batch", batch, TestContext.Current.CancellationToken)).StatusCode);
            }

            await Task.Delay(500, TestContext.Current.CancellationToken); // a few 100 ms checkpoints
            first.Signal(SIGKILL);
            Assert.NotEqual(0, await first.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        }

        await using (var second = HermesProcess.Start(settings))
        {
            await second.WaitUntilAliveAsync(TimeSpan.FromSeconds(30));
            Assert.Contains("did not shut down cleanly", second.StandardOutput);
            Assert.Contains("500 events had been answered 202 but not yet stored", second.StandardOutput);
            var stats = Integration.StatsContract.AssertRoundTrips(await second.Client.GetByteArrayAsync("/stats", TestContext.Current.CancellationToken));
            Assert.Equal(500, stats.PreviousRun!.AtRiskEvents);

            // The durable event was stored before its 200; the 500 answered 202 are exactly what was lost.
            Assert.Equal(1L, await Database.ScalarAsync<long>(db, "SELECT count(*) FROM events WHERE id = 'crash-durable'"));
            Assert.Equal(0L, await Database.ScalarAsync<long>(db, "SELECT count(*) FROM events WHERE id LIKE 'crash-%-%'"));

            second.Signal(HermesProcess.SIGTERM);
            Assert.Equal(0, await second.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        }

        await using var third = HermesProcess.Start(settings);
        await third.WaitUntilAliveAsync(TimeSpan.FromSeconds(30));
        Assert.DoesNotContain("did not shut down cleanly", third.StandardOutput);
        var clean = await (await third.Client.GetAsync("/stats", TestContext.Current.CancellationToken)).ReadJsonAsync();
        Assert.False(clean.TryGetProperty("previousRun", out _));
    }
}

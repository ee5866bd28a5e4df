using System.Globalization;
using System.Net;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;

namespace Hermes.Tests.Soak;

/// <summary>
/// SPILL_SHARED with real processes: a replica holding spilled events is killed, two new ones start at once on the
/// same root, and the dead one's spill is replayed exactly once (counted by replay, not by the database's dedup).
/// </summary>
[Soak]
[NeedsPostgresServer]
[Collection(PostgresCollection.Name)]
public sealed class SpillAdoptionTests(SharedPostgres postgres)
{
    private const int SIGKILL = 9;
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_killed_replicas_spill_is_replayed_once_by_one_of_two_new_replicas_and_its_losses_reported_once()
    {
        var ct = TestContext.Current.CancellationToken;
        var db = await postgres.Server.CreateDatabaseAsync();
        using var shared = new TempDirectory("shared-spill");
        var root = shared.Path;

        // Arrange: a replica whose database is unreachable (nothing listens on its port), so every batch spills.
        var dead = $"Host=127.0.0.1;Port={Ports.Free()};Username=postgres;Database=hermes;Timeout=1";
        await using (var first = HermesProcess.Start(Shared(root, dead, new()
        {
            // Non-durable events stay queued (at risk) until a durable request expedites the queue.
            ["FLUSH_INTERVAL"] = "1h",
            ["BATCH_SIZE"] = "100000",
        })))
        {
            await first.WaitUntilAliveAsync(Startup);
            for (var b = 0; b < 4; b++)
            {
                using var durable = await first.Client.PostAsync("/events/batch?ack=durable",
                    Events.Ndjson(Enumerable.Range(0, 250).Select(i => Events.Json($"spilled-{b}-{i}"))), ct);
                Assert.Equal(HttpStatusCode.OK, durable.StatusCode);
            }

            using (var queued = await first.Client.PostAsync("/events/batch",
                Events.Ndjson(Enumerable.Range(0, 70).Select(i => Events.Json($"queued-{i}"))), ct))
            {
                Assert.Equal(HttpStatusCode.Accepted, queued.StatusCode);
            }

            await Task.Delay(500, ct); // a few 100 ms ledger checkpoints
            first.Signal(SIGKILL);
            Assert.NotEqual(0, await first.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        }

        var orphan = Assert.Single(Directory.GetDirectories(root));
        Assert.NotEmpty(Directory.GetFiles(orphan, "*.spill"));

        // Act: two replicas start at once on the same root, database up.
        await using var second = HermesProcess.Start(Shared(root, db));
        await using var third = HermesProcess.Start(Shared(root, db));
        await Task.WhenAll(second.WaitUntilAliveAsync(Startup), third.WaitUntilAliveAsync(Startup));

        // Assert: every durable event stored once; the 70 that were only queued were lost, and said so.
        Assert.Equal(1_000L, await Database.WaitForCountAsync(db, "SELECT count(*) FROM events WHERE id LIKE 'spilled-%'", 1_000, TimeSpan.FromSeconds(30)));
        Assert.Equal(0L, await Database.ScalarAsync<long>(db, "SELECT count(*) FROM events WHERE id LIKE 'queued-%'"));
        Assert.Equal(1_000L, await Database.ScalarAsync<long>(db, "SELECT sum(count)::bigint FROM event_rollups"));
        await WaitUntilAsync(() => !Directory.Exists(orphan), "the adopted directory was not deleted");

        // Exactly one replica replayed it, and nothing was offered to the database twice.
        var replayed = new[] { await MetricAsync(second, "hermes_spill_replayed_total"), await MetricAsync(third, "hermes_spill_replayed_total") };
        Assert.Equal(1_000, replayed.Sum());
        Assert.Contains(0, replayed);
        Assert.Equal(0, await MetricAsync(second, "hermes_db_duplicates_skipped_total") + await MetricAsync(third, "hermes_db_duplicates_skipped_total"));

        // The dead replica's ledger is reported once, by the adopter: 70 answered 202 and never stored.
        var adopter = replayed[0] > 0 ? second : third;
        var other = replayed[0] > 0 ? third : second;
        Assert.Contains("70 events had been answered 202 but not yet stored", adopter.StandardOutput);
        Assert.DoesNotContain("did not shut down cleanly", other.StandardOutput);
        Assert.Equal(70, await MetricAsync(adopter, "hermes_previous_run_at_risk_events"));
        // /stats is rebuilt once a second, so the report may show up a snapshot later.
        var stats = await Events.Eventually(
            async () => await (await adopter.Client.GetAsync("/stats", ct)).ReadJsonAsync(),
            s => s.TryGetProperty("previousRun", out _),
            TimeSpan.FromSeconds(5));
        Assert.Equal(70, stats.GetProperty("previousRun").GetProperty("atRiskEvents").GetInt64());
        Assert.Equal(1, stats.GetProperty("previousRun").GetProperty("runs").GetInt64());

        // Stopped cleanly, the two leave empty directories; the next replica tidies them away without a report.
        second.Signal(HermesProcess.SIGTERM);
        third.Signal(HermesProcess.SIGTERM);
        Assert.Equal(0, await second.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, await third.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(2, Directory.GetDirectories(root).Length);
        await using var fourth = HermesProcess.Start(Shared(root, db));
        await fourth.WaitUntilAliveAsync(Startup);
        await WaitUntilAsync(() => Directory.GetDirectories(root).Length == 1, "clean directories were not tidied away");
        Assert.DoesNotContain("did not shut down cleanly", fourth.StandardOutput);
        Assert.Equal(1_000L, await Database.ScalarAsync<long>(db, "SELECT count(*) FROM events"));
    }

    private static Dictionary<string, string> Shared(string root, string dsn, Dictionary<string, string>? extra = null)
    {
        var settings = new Dictionary<string, string> { ["DB_DSN"] = dsn, ["SPILL_DIR"] = root, ["SPILL_SHARED"] = "true" };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>An unlabelled Hermes counter or gauge from <c>/metrics</c>, summed over its series.</summary>
    private static async Task<long> MetricAsync(HermesProcess hermes, string name)
    {
        var text = await hermes.Client.GetStringAsync("/metrics", TestContext.Current.CancellationToken);
        return text.Split('\n')
            .Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal))
            .Sum(l => (long)double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string message)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, message);
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }
}

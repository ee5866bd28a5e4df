using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;

namespace Hermes.Tests.Soak;

/// <summary>PostgreSQL killed under load and restarted: nothing accepted is lost, nothing is stored or counted twice.</summary>
[Soak]
[NeedsPostgresServer]
[Collection(PostgresCollection.Name)]
public sealed class DatabaseOutageSoakTests
{
    [Fact]
    public async Task Postgres_killed_under_load_and_restarted_loses_nothing_and_duplicates_nothing()
    {
        // Durable: the server is killed, and with synchronous_commit off it could lose commits it acknowledged.
        await using var server = await PostgresServer.StartAsync(durable: true);
        var db = await server.CreateDatabaseAsync();
        using var spill = new TempDirectory("spill");
        await using var hermes = HermesProcess.Start(new()
        {
            ["DB_DSN"] = db, ["SPILL_DIR"] = spill.Path, ["BACKPRESSURE_MODE"] = "block", ["DB_WRITE_TIMEOUT"] = "2s",
            ["DB_BREAKER_BREAK"] = "1s",
        });
        await hermes.WaitUntilAliveAsync(TimeSpan.FromSeconds(30));
        var outage = Environment.GetEnvironmentVariable("SOAK") == "long" ? TimeSpan.FromSeconds(30) : TimeSpan.FromSeconds(5);
        var load = new LoadGenerator(hermes.Client, "outage", senders: 3, eventsPerBatch: 500);

        var running = load.RunAsync(outage + TimeSpan.FromSeconds(8), TestContext.Current.CancellationToken);
        await Task.Delay(TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
        await server.KillAsync();
        await Task.Delay(outage, TestContext.Current.CancellationToken);
        var spilledDuringOutage = Directory.EnumerateFiles(spill.Path, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        await server.StartAsync(TimeSpan.FromSeconds(60));
        await running;

        Assert.True(spilledDuringOutage > 0, "nothing was spilled while the database was down");
        Assert.Equal([202], load.Statuses.Keys.Order());
        var accepted = load.AcceptedIds.Count;
        var stored = await Database.WaitForCountAsync(db, "SELECT count(*) FROM events", accepted, TimeSpan.FromSeconds(60));
        if (stored != accepted)
        {
            var metrics = await hermes.Client.GetStringAsync("/metrics", TestContext.Current.CancellationToken);
            var deadLetters = await Database.ScalarAsync<long>(db, "SELECT count(*) FROM dead_letters");
            var missing = load.AcceptedIds.Except((await Database.RowsAsync(db, "SELECT id FROM events")).Select(r => (string)r[0]!)).Take(5);
            Assert.Fail($"stored {stored} of {accepted}; dead letters {deadLetters}; missing e.g. {string.Join(", ", missing)}\n"
                + string.Join('\n', metrics.Split('\n').Where(l => l.StartsWith("hermes_", StringComparison.Ordinal) && !l.Contains("_bucket", StringComparison.Ordinal)))
                + "\n--- log ---\n" + string.Join('\n', hermes.StandardOutput.Split('\n').Where(l => l.Contains("fail", StringComparison.OrdinalIgnoreCase) || l.Contains("warn", StringComparison.OrdinalIgnoreCase) || l.Contains("error", StringComparison.OrdinalIgnoreCase)).Take(40)));
        }

        Assert.Equal(accepted, await Database.ScalarAsync<long>(db, "SELECT count(DISTINCT id) FROM events"));
        Assert.Equal(accepted, (long)await Database.ScalarAsync<decimal>(db, "SELECT sum(count) FROM event_rollups"));
    }
}

using System.Globalization;
using System.Net;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;

namespace Hermes.Tests.Soak;

/// <summary>
/// Load well past what the database absorbs, and SIGTERM in the middle of load, against a real PostgreSQL.
/// CI runs them for a few seconds; <c>SOAK=long</c> runs a minute each.
/// </summary>
[Soak]
[NeedsPostgresServer]
[Collection(PostgresCollection.Name)]
public sealed class OverloadSoakTests(SharedPostgres postgres)
{
    /// <summary>The RSS bound README.md states for QUEUE_SIZE=100000.</summary>
    private const long RssBoundBytes = 300L * 1024 * 1024;

    [Fact]
    public async Task Overload_answers_only_202_or_503_with_Retry_After_keeps_memory_flat_and_loses_nothing()
    {
        var db = await postgres.Server.CreateDatabaseAsync();
        using var spill = new TempDirectory("spill");
        // One writer: the database absorbs far less than six senders offer, so the queue stays full.
        await using var hermes = HermesProcess.Start(new()
        {
            ["DB_DSN"] = db, ["SPILL_DIR"] = spill.Path, ["QUEUE_SIZE"] = "100000", ["BACKPRESSURE_MODE"] = "strict",
            ["WORKER_COUNT"] = "1", ["MAX_OPEN_CONNS"] = "1",
        });
        await hermes.WaitUntilAliveAsync(TimeSpan.FromSeconds(30));
        var load = new LoadGenerator(hermes.Client, "soak");
        var rss = new List<long>();
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                rss.Add(hermes.ResidentBytes());
                await Task.Delay(250, CancellationToken.None);
            }
        }, TestContext.Current.CancellationToken);

        await load.RunAsync(LoadGenerator.SoakDuration(ciSeconds: 15), TestContext.Current.CancellationToken);
        await sampling.CancelAsync();
        await sampler;

        Assert.Equal([202, 503], load.Statuses.Keys.Order());
        Assert.Equal(0, load.MissingRetryAfter);
        Assert.True(rss.Max() <= RssBoundBytes, $"RSS peaked at {rss.Max() / 1048576} MiB");
        var quarter = Math.Max(1, rss.Count / 4);
        Assert.True(rss.TakeLast(quarter).Max() <= rss.Take(quarter).Max() * 1.5,
            $"RSS grew: first quarter max {rss.Take(quarter).Max() / 1048576} MiB, last {rss.TakeLast(quarter).Max() / 1048576} MiB");

        // Every id answered 202 is stored once and counted once, in memory and in the rollups.
        var accepted = load.AcceptedIds.Count;
        Assert.Equal(accepted, await Database.WaitForCountAsync(db, "SELECT count(*) FROM events", accepted, TimeSpan.FromSeconds(120)));
        Assert.Equal(accepted, await Database.ScalarAsync<decimal>(db, "SELECT coalesce(sum(count), 0) FROM event_rollups"));
        var aggregated = (await (await hermes.Client.GetAsync("/aggregates", TestContext.Current.CancellationToken)).ReadJsonAsync())
            .EnumerateObject().Sum(p => p.Value.GetInt64());
        Assert.Equal(accepted, aggregated);
    }

    [Fact]
    public async Task SIGTERM_under_load_stores_everything_accepted_and_exits_zero_within_the_shutdown_timeout()
    {
        var db = await postgres.Server.CreateDatabaseAsync();
        using var spill = new TempDirectory("spill");
        await using var hermes = HermesProcess.Start(new()
        {
            ["DB_DSN"] = db, ["SPILL_DIR"] = spill.Path, ["SHUTDOWN_TIMEOUT"] = "20s", ["BACKPRESSURE_MODE"] = "block",
        });
        await hermes.WaitUntilAliveAsync(TimeSpan.FromSeconds(30));
        var load = new LoadGenerator(hermes.Client, "term", senders: 4);

        var running = load.RunAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        await Task.Delay(LoadGenerator.SoakDuration(ciSeconds: 4), TestContext.Current.CancellationToken);
        var signalled = DateTime.UtcNow;
        hermes.Signal(HermesProcess.SIGTERM);
        var exitCode = await hermes.WaitForExitAsync(TimeSpan.FromSeconds(25));
        var took = DateTime.UtcNow - signalled;
        await running;

        Assert.Equal(0, exitCode);
        Assert.True(took < TimeSpan.FromSeconds(20), $"shutdown took {took}");
        Assert.True(load.AcceptedIds.Count > 0);

        // Stored: committed, or spilled (replayed by the next start on the same SPILL_DIR).
        var committed = await Database.ScalarAsync<long>(db, "SELECT count(*) FROM events");
        if (committed < load.AcceptedIds.Count)
        {
            await using var next = HermesProcess.Start(new() { ["DB_DSN"] = db, ["SPILL_DIR"] = spill.Path });
            await next.WaitUntilAliveAsync(TimeSpan.FromSeconds(30));
            committed = await Database.WaitForCountAsync(db, "SELECT count(*) FROM events", load.AcceptedIds.Count, TimeSpan.FromSeconds(60));
        }

        Assert.Equal(load.AcceptedIds.Count, committed);
        Assert.Contains("Drained", hermes.StandardOutput);
    }
}

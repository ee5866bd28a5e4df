using System.Net;
using System.Text.Json;
using Hermes.Ingest.Sinks.Durable;
using Hermes.Ingest.Telemetry;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Durable;

/// <summary>
/// The durability contract (ENGINEERING.md §3), held to for every destination behind the durable layer: an outage
/// loses nothing and stores each accepted event once, a stop during an outage spills and the next start replays, a
/// full spill drops and says so, a poison event is dead-lettered while its batch mates land, and a crash is reported
/// exactly from the run ledger. Each destination (PostgreSQL, the in-memory store) runs these same tests through a
/// subclass that says how to start it, take it down, bring it back, and read what it stored.
/// </summary>
public abstract class DurableSinkFaultTests : IAsyncLifetime
{
    /// <summary>SPILL_DIR of every Hermes a test starts: a second start finds what the first left.</summary>
    protected TempDirectory Spill { get; } = new("spill");

    /// <summary>A payload the destination refuses for its data (and only for its data).</summary>
    protected abstract string PoisonPayload { get; }

    /// <summary>A pattern the destination's reason for refusing <see cref="PoisonPayload"/> matches.</summary>
    protected abstract string PoisonReason { get; }

    /// <summary>Starts the destination (each test gets one of its own).</summary>
    public abstract ValueTask InitializeAsync();

    public virtual ValueTask DisposeAsync()
    {
        Spill.Dispose();
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    /// <summary>The destination goes away: connections are refused until <see cref="BringBackAsync"/>.</summary>
    protected abstract Task TakeDownAsync();

    protected abstract Task BringBackAsync();

    /// <summary>Hermes with these settings (the seed's names), writing to this destination through the durable layer.</summary>
    protected abstract HermesFactory Hermes(Dictionary<string, string?> settings);

    /// <summary>The id of every event stored, once per stored copy.</summary>
    protected abstract Task<IReadOnlyList<string>> StoredIdsAsync();

    protected abstract Task<IReadOnlyList<DeadLetter>> DeadLettersAsync();

    /// <summary>Whatever else the destination keeps about <paramref name="stored"/> events must agree (PostgreSQL: rollups).</summary>
    protected virtual Task AssertConsistentAsync(long stored) => Task.CompletedTask;

    [Fact]
    public async Task An_outage_mid_stream_loses_nothing_and_stores_each_accepted_id_once()
    {
        await using var hermes = Hermes(new() { ["FLUSH_INTERVAL"] = "20ms", ["WORKER_COUNT"] = "4", ["DB_BREAKER_BREAK"] = "1s", ["DB_WRITE_TIMEOUT"] = "5s" });
        var client = hermes.Start();
        var metrics = hermes.Service<DurableSinkMetrics>();
        var accepted = new HashSet<string>();
        string? healthWhileOpen = null;

        for (var i = 0; i < 60; i++)
        {
            if (i == 15)
            {
                await TakeDownAsync();
            }

            if (i == 45)
            {
                await BringBackAsync();
            }

            // Each batch re-sends a few ids of the one before, as a client retrying after a timeout would.
            var ids = Enumerable.Range(0, 100).Select(j => $"f-{i}-{j}").Concat(i > 0 ? Enumerable.Range(0, 5).Select(j => $"f-{i - 1}-{j}") : []).ToList();
            var response = await client.PostAsync("/events/batch", Events.Array(ids.Select(id => Events.Json(id))), TestContext.Current.CancellationToken);
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                accepted.UnionWith(ids);
            }

            if (i is > 15 and < 45 && metrics.CircuitState == WriteBreaker.Open && healthWhileOpen is null)
            {
                healthWhileOpen = await client.GetStringAsync("/health", TestContext.Current.CancellationToken);
            }

            await Task.Delay(40, TestContext.Current.CancellationToken);
        }

        var stored = await Events.Eventually(StoredIdsAsync, ids => ids.Count >= accepted.Count, TimeSpan.FromSeconds(30));
        Assert.Equal(6000, accepted.Count);
        Assert.Equal(accepted.Count, stored.Count);
        Assert.True(accepted.SetEquals(stored), "every accepted id is stored, and nothing else");
        await AssertConsistentAsync(accepted.Count);
        Assert.Equal("Degraded", healthWhileOpen);
        Assert.True(metrics.OpenRejects > 0, "the breaker should have turned batches away while open");
        Assert.True(metrics.Replayed > 0, "spilled batches should have been replayed");
        await Events.Eventually(() => Task.FromResult(metrics.SpillEvents), n => n == 0);
        Assert.Equal(0, metrics.SpillEvents);
        Assert.Equal(0, metrics.Dropped(DropReason.SpillFull) + metrics.Dropped(DropReason.Corrupt));
        Assert.Equal("Healthy", await client.GetStringAsync("/health", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Stopping_while_the_destination_is_down_spills_and_the_next_start_replays()
    {
        var settings = new Dictionary<string, string?> { ["FLUSH_INTERVAL"] = "20ms", ["WORKER_COUNT"] = "4", ["DB_BREAKER_BREAK"] = "1s", ["DB_WRITE_TIMEOUT"] = "5s" };
        await TakeDownAsync();
        await using (var first = Hermes(settings))
        {
            var client = first.Start();
            for (var i = 0; i < 5; i++)
            {
                var response = await client.PostAsync("/events/batch", Events.Array(Enumerable.Range(0, 100).Select(j => Events.Json($"s-{i}-{j}"))), TestContext.Current.CancellationToken);
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            }
        }

        Assert.NotEmpty(Directory.GetFiles(Spill.Path, "*.spill"));
        Assert.Empty(await StoredIdsAsync());

        await BringBackAsync();
        await using var second = Hermes(settings);
        second.Start();

        var stored = await Events.Eventually(StoredIdsAsync, ids => ids.Count >= 500, TimeSpan.FromSeconds(20));
        Assert.Equal(500, stored.Count);
        Assert.Equal(500, stored.Distinct().Count());
        await AssertConsistentAsync(500);
        await Events.Eventually(() => Task.FromResult(Directory.GetFiles(Spill.Path, "*.spill").Length), n => n == 0);
        Assert.Empty(Directory.GetFiles(Spill.Path, "*.spill"));
        Assert.Equal(500, second.Service<DurableSinkMetrics>().Replayed);
    }

    [Fact]
    public async Task Past_SPILL_MAX_BYTES_batches_are_dropped_counted_and_health_turns_unhealthy()
    {
        await TakeDownAsync();
        await using var hermes = Hermes(new() { ["SPILL_MAX_BYTES"] = "1048576", ["FLUSH_INTERVAL"] = "10ms", ["BATCH_SIZE"] = "10" });
        var client = hermes.Start();
        var payload = "{\"blob\":\"" + new string('x', 15_000) + "\"}";

        for (var i = 0; i < 10; i++)
        {
            var batch = Enumerable.Range(0, 10).Select(j => Events.Json($"full-{i}-{j}", payload: payload));
            await client.PostAsync("/events/batch", Events.Array(batch), TestContext.Current.CancellationToken);
        }

        var metrics = hermes.Service<DurableSinkMetrics>();
        await Events.Eventually(() => Task.FromResult(hermes.Service<IngestMetrics>().Accepted), n => n == 100);
        await Events.Eventually(() => Task.FromResult(metrics.SpillEvents + metrics.Dropped(DropReason.SpillFull)), n => n == 100);
        Assert.InRange(metrics.SpillEvents, 50, 70);
        Assert.Equal(100 - metrics.SpillEvents, metrics.Dropped(DropReason.SpillFull));
        Assert.InRange(metrics.SpillBytes, 900_000, 1_048_576);
        Assert.Equal(WriteBreaker.Open, metrics.CircuitState);
        var health = await client.GetAsync("/health", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        Assert.Equal("Unhealthy", await health.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_poison_event_is_dead_lettered_while_its_batch_mates_land()
    {
        await using var hermes = Hermes(new() { ["FLUSH_INTERVAL"] = "20ms", ["WORKER_COUNT"] = "4" });
        var client = hermes.Start();
        var events = Enumerable.Range(0, 20).Select(i => Events.Json($"p-{i}", payload: i == 13 ? PoisonPayload : "{\"ok\":true}"));

        var response = await client.PostAsync("/events/batch", Events.Array(events), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var dead = Assert.Single(await Events.Eventually(DeadLettersAsync, d => d.Count > 0));
        var stored = await Events.Eventually(StoredIdsAsync, ids => ids.Count >= 19);
        Assert.Equal(("p-13", PoisonPayload), (dead.Id, dead.Payload));
        Assert.Matches(PoisonReason, dead.Reason);
        Assert.Equal(Enumerable.Range(0, 20).Where(i => i != 13).Select(i => $"p-{i}").Order(), stored.Order());
        await AssertConsistentAsync(19);
        var metrics = hermes.Service<DurableSinkMetrics>();
        Assert.Equal(1, metrics.DeadLetters);
        Assert.Equal(WriteBreaker.Closed, metrics.CircuitState);
        Assert.Equal(0, metrics.WriteFailures(WriteFailureClass.Connectivity));
    }

    /// <summary>
    /// The run ledger as a SIGKILL leaves it: the last checkpoint on disk, never marked clean. The kill itself (a real
    /// process, a real signal) is <c>Soak/CrashRecoveryTests</c>'; here the ledger is put back as it was before the
    /// stop, so every destination shows the same report from the same file.
    /// </summary>
    [Fact]
    public async Task After_a_crash_the_next_start_reports_exactly_the_events_answered_202_but_not_stored()
    {
        // Nothing flushes by itself: accepted events stay queued, at risk, until something expedites them.
        var settings = new Dictionary<string, string?> { ["FLUSH_INTERVAL"] = "1h", ["BATCH_SIZE"] = "100000" };
        string atCrash;
        await using (var first = Hermes(settings))
        {
            var client = first.Start();
            var durable = await client.PostAsync("/events?ack=durable", Events.Body(Events.Json("crash-durable")), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, durable.StatusCode);
            for (var request = 0; request < 5; request++)
            {
                var batch = Events.Ndjson(Enumerable.Range(0, 100).Select(i => Events.Json($"crash-{request}-{i}")));
                Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync("/events/batch", batch, TestContext.Current.CancellationToken)).StatusCode);
            }

            atCrash = await Events.Eventually(() => File.ReadAllTextAsync(Spill["run.json"], TestContext.Current.CancellationToken), json => Ledger(json) == (500, 0, false));
            Assert.Equal((500, 0, false), Ledger(atCrash));
        }

        Assert.Equal((500, 500, true), Ledger(await File.ReadAllTextAsync(Spill["run.json"], TestContext.Current.CancellationToken)));
        await File.WriteAllTextAsync(Spill["run.json"], atCrash, TestContext.Current.CancellationToken);

        await using (var second = Hermes(settings))
        {
            var client = second.Start();
            var stats = Integration.StatsContract.AssertRoundTrips(await client.GetByteArrayAsync("/stats", TestContext.Current.CancellationToken));
            Assert.Equal((false, 500, 1), (stats.PreviousRun!.Clean, stats.PreviousRun.AtRiskEvents, stats.PreviousRun.Runs));
            Assert.Equal(1, (await StoredIdsAsync()).Count(id => id == "crash-durable"));
        }

        await using var third = Hermes(settings);
        var clean = await (await third.Start().GetAsync("/stats", TestContext.Current.CancellationToken)).ReadJsonAsync();
        Assert.False(clean.TryGetProperty("previousRun", out _));

        static (long Accepted, long Stored, bool Clean) Ledger(string json)
        {
            using var entry = JsonDocument.Parse(json);
            var root = entry.RootElement;
            return (root.GetProperty("Accepted").GetInt64(), root.GetProperty("Stored").GetInt64(), root.GetProperty("Clean").GetBoolean());
        }
    }
}

/// <summary>An event a destination refused for its data, as it keeps it: its id, its payload, and the reason.</summary>
public sealed record DeadLetter(string Id, string? Payload, string Reason);

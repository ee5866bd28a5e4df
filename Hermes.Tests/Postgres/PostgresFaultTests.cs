using System.Net;
using Hermes.Ingest.Sinks.Postgres;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Postgres;

/// <summary>Outages of a real server: each test starts (and stops, and restarts) a PostgreSQL of its own.</summary>
[NeedsPostgresServer]
[Collection(PostgresCollection.Name)]
public sealed class PostgresFaultTests : IAsyncLifetime
{
    private readonly string _spill = Path.Combine(Path.GetTempPath(), "hermes-spill-" + Guid.NewGuid().ToString("N")[..12]);
    private PostgresServer _server = null!;
    private string _db = "";

    public async ValueTask InitializeAsync()
    {
        _server = await PostgresServer.StartAsync();
        _db = await _server.CreateDatabaseAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        if (Directory.Exists(_spill))
        {
            Directory.Delete(_spill, recursive: true);
        }
    }

    [Fact]
    public async Task Stopping_postgres_mid_stream_loses_nothing_and_stores_each_accepted_id_once()
    {
        await using var hermes = Hermes();
        var client = hermes.Start();
        var metrics = hermes.Service<PostgresSinkMetrics>();
        var accepted = new HashSet<string>();
        string? healthWhileOpen = null;

        for (var i = 0; i < 60; i++)
        {
            if (i == 15)
            {
                await _server.StopAsync();
            }

            if (i == 45)
            {
                await _server.StartAsync(TimeSpan.FromSeconds(30));
            }

            // Each batch re-sends a few ids of the one before, as a client retrying after a timeout would.
            var ids = Enumerable.Range(0, 100).Select(j => $"f-{i}-{j}").Concat(i > 0 ? Enumerable.Range(0, 5).Select(j => $"f-{i - 1}-{j}") : []).ToList();
            var response = await client.PostAsync("/events/batch", Events.Array(ids.Select(id => Events.Json(id))), TestContext.Current.CancellationToken);
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                accepted.UnionWith(ids);
            }

            if (i is > 15 and < 45 && metrics.CircuitState == DatabaseBreaker.Open && healthWhileOpen is null)
            {
                healthWhileOpen = await client.GetStringAsync("/health", TestContext.Current.CancellationToken);
            }

            await Task.Delay(40, TestContext.Current.CancellationToken);
        }

        Assert.Equal(accepted.Count, await Database.WaitForCountAsync(_db, "SELECT count(*) FROM events", accepted.Count, TimeSpan.FromSeconds(30)));
        Assert.Equal(6000, accepted.Count);
        Assert.Equal(accepted.Count, await Database.ScalarAsync<long>(_db, "SELECT count(DISTINCT id) FROM events"));
        Assert.Equal(accepted.Count, (long)await Database.ScalarAsync<decimal>(_db, "SELECT sum(count) FROM event_rollups"));
        Assert.Equal("Degraded", healthWhileOpen);
        Assert.True(metrics.OpenRejects > 0, "the breaker should have turned batches away while open");
        Assert.True(metrics.Replayed > 0, "spilled batches should have been replayed");
        await Events.Eventually(() => Task.FromResult(metrics.SpillEvents), n => n == 0);
        Assert.Equal(0, metrics.SpillEvents);
        Assert.Equal(0, metrics.Dropped(DropReason.SpillFull) + metrics.Dropped(DropReason.Corrupt));
        Assert.Equal("Healthy", await client.GetStringAsync("/health", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Shutdown_with_the_database_down_spills_and_the_next_start_replays()
    {
        await _server.StopAsync();
        await using (var first = Hermes())
        {
            var client = first.Start();
            for (var i = 0; i < 5; i++)
            {
                var response = await client.PostAsync("/events/batch", Events.Array(Enumerable.Range(0, 100).Select(j => Events.Json($"s-{i}-{j}"))), TestContext.Current.CancellationToken);
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            }
        }

        Assert.NotEmpty(Directory.GetFiles(_spill, "*.spill"));

        await _server.StartAsync(TimeSpan.FromSeconds(30));
        await using var second = Hermes();
        second.Start();

        Assert.Equal(500, await Database.WaitForCountAsync(_db, "SELECT count(*) FROM events", 500, TimeSpan.FromSeconds(20)));
        Assert.Equal(500, (long)await Database.ScalarAsync<decimal>(_db, "SELECT sum(count) FROM event_rollups"));
        Assert.Equal(PostgresSchema.LatestVersion, await Database.ScalarAsync<int>(_db, "SELECT max(version) FROM schema_version"));
        await Events.Eventually(() => Task.FromResult(Directory.GetFiles(_spill, "*.spill").Length), n => n == 0);
        Assert.Empty(Directory.GetFiles(_spill, "*.spill"));
        Assert.Equal(500, second.Service<PostgresSinkMetrics>().Replayed);
    }

    private HermesFactory Hermes() => new(new()
    {
        ["DB_DSN"] = _db,
        ["SPILL_DIR"] = _spill,
        ["FLUSH_INTERVAL"] = "20ms",
        ["WORKER_COUNT"] = "4",
        ["DB_BREAKER_BREAK"] = "1s",
        ["DB_WRITE_TIMEOUT"] = "5s",
    });
}

/// <summary>A database that never answers (a closed port): everything spills until the spill is full.</summary>
public sealed class SpillFullTests : IAsyncLifetime
{
    private readonly string _spill = Path.Combine(Path.GetTempPath(), "hermes-spill-" + Guid.NewGuid().ToString("N")[..12]);
    private HermesFactory _hermes = null!;
    private HttpClient _client = null!;

    public ValueTask InitializeAsync()
    {
        _hermes = new HermesFactory(new()
        {
            ["DB_DSN"] = "postgres://postgres@127.0.0.1:1/nowhere",
            ["SPILL_DIR"] = _spill,
            ["SPILL_MAX_BYTES"] = "1048576",
            ["FLUSH_INTERVAL"] = "10ms",
            ["BATCH_SIZE"] = "10",
        });
        _client = _hermes.Start();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _hermes.DisposeAsync();
        Directory.Delete(_spill, recursive: true);
    }

    [Fact]
    public async Task Past_SPILL_MAX_BYTES_batches_are_dropped_counted_and_health_turns_unhealthy()
    {
        var payload = "{\"blob\":\"" + new string('x', 15_000) + "\"}";

        for (var i = 0; i < 10; i++)
        {
            var batch = Enumerable.Range(0, 10).Select(j => Events.Json($"full-{i}-{j}", payload: payload));
            await _client.PostAsync("/events/batch", Events.Array(batch), TestContext.Current.CancellationToken);
        }

        var metrics = _hermes.Service<PostgresSinkMetrics>();
        await Events.Eventually(() => Task.FromResult(_hermes.Service<Hermes.Ingest.Telemetry.IngestMetrics>().Accepted), n => n == 100);
        await Events.Eventually(() => Task.FromResult(metrics.SpillEvents + metrics.Dropped(DropReason.SpillFull)), n => n == 100);
        Assert.InRange(metrics.SpillEvents, 50, 70);
        Assert.Equal(100 - metrics.SpillEvents, metrics.Dropped(DropReason.SpillFull));
        Assert.InRange(metrics.SpillBytes, 900_000, 1_048_576);
        Assert.Equal(DatabaseBreaker.Open, metrics.CircuitState);
        var health = await _client.GetAsync("/health", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        Assert.Equal("Unhealthy", await health.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }
}

using System.Net;
using System.Text.Json.Nodes;
using Hermes.Ingest.Sinks.Durable;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;

namespace Hermes.Tests.Postgres;

[NeedsPostgresServer]
[Collection(PostgresCollection.Name)]
public sealed class PostgresSinkTests(SharedPostgres postgres) : IAsyncLifetime
{
    private readonly TempDirectory _spill = new("spill");
    private string _db = "";
    private HermesFactory _hermes = null!;
    private HttpClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        _db = await postgres.Server.CreateDatabaseAsync();
        _hermes = new HermesFactory(new()
        {
            ["DB_DSN"] = _db,
            ["SPILL_DIR"] = _spill.Path,
            ["FLUSH_INTERVAL"] = "20ms",
            ["WORKER_COUNT"] = "4",
        });
        _client = _hermes.Start();
    }

    public async ValueTask DisposeAsync()
    {
        await _hermes.DisposeAsync();
        _spill.Dispose();
    }

    /// <param name="padding">0: a small batch, written by INSERT; 300: a full one, written by binary COPY.</param>
    [Theory]
    [InlineData(0)]
    [InlineData(300)]
    public async Task Rows_round_trip_with_exact_values(int padding)
    {
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        var events = new[]
        {
            Events.Json("rt-1", type: "trip_started", timestamp: 1_700_000_001, user: "user-ü", payload: """{"a":[1,2.5,"x"],"b":{"c":null},"e":"☃"}"""),
            Events.Json("rt-2", type: "ad_clicked", timestamp: 1_700_000_123, user: "u2", payload: "{}"),
            """{"id":"rt-3","user_id":"u3","type":"song_played","timestamp":1700000200}""",
        }.Concat(Enumerable.Range(0, padding).Select(i => Events.Json($"zz-pad-{i}")));

        // Durable: the whole request is taken as one batch at once.
        var response = await _client.PostAsync("/events/batch?ack=durable", Events.Array(events), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3 + padding, await Database.ScalarAsync<long>(_db, "SELECT count(*) FROM events"));
        var rows = await Database.RowsAsync(_db, "SELECT id, user_id, type, ts, payload::text, received_at FROM events WHERE id LIKE 'rt-%' ORDER BY id");
        Assert.Equal(["rt-1", "user-ü", "trip_started", DateTime.UnixEpoch.AddSeconds(1_700_000_001)], rows[0][..4]);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"a":[1,2.5,"x"],"b":{"c":null},"e":"☃"}"""), JsonNode.Parse((string)rows[0][4]!)));
        Assert.Equal(["rt-2", "u2", "ad_clicked", DateTime.UnixEpoch.AddSeconds(1_700_000_123), "{}"], rows[1][..5]);
        Assert.Equal(["rt-3", "u3", "song_played", DateTime.UnixEpoch.AddSeconds(1_700_000_200), null], rows[2][..5]);
        Assert.All(rows, r => Assert.InRange((DateTime)r[5]!, before.UtcDateTime, DateTime.UtcNow.AddSeconds(1)));
    }

    [Fact]
    public async Task Resent_ids_are_stored_once_and_counted_once_in_the_rollups()
    {
        var first = Enumerable.Range(0, 100).Select(i => Events.Json($"dup-{i}")).ToList();
        var second = Enumerable.Range(50, 100).Select(i => Events.Json($"dup-{i}")).Concat([Events.Json("dup-7"), Events.Json("dup-7")]).ToList();

        await _client.PostAsync("/events/batch", Events.Array(first), TestContext.Current.CancellationToken);
        await Database.WaitForCountAsync(_db, "SELECT count(*) FROM events", 100, TimeSpan.FromSeconds(10));
        await _client.PostAsync("/events/batch", Events.Array(second), TestContext.Current.CancellationToken);

        var metrics = _hermes.Service<DurableSinkMetrics>();
        await Events.Eventually(() => Task.FromResult(metrics.RowsWritten), n => n == 150);
        await Events.Eventually(() => Task.FromResult(_hermes.Service<Hermes.Ingest.Telemetry.IngestMetrics>().Flushed), n => n == 202);
        Assert.Equal(150L, await Database.ScalarAsync<long>(_db, "SELECT count(*) FROM events"));
        Assert.Equal(150L, await Database.ScalarAsync<long>(_db, "SELECT count(DISTINCT id) FROM events"));
        Assert.Equal(150m, await Database.ScalarAsync<decimal>(_db, "SELECT sum(count) FROM event_rollups"));
    }

    [Fact]
    public async Task Rollups_equal_distinct_ids_per_type_and_minute_and_source_db_answers_in_the_same_shape()
    {
        var events = Enumerable.Range(0, 300).Select(i => Events.Json($"r-{i % 240}", type: i % 3 == 0 ? "ad_clicked" : "song_played", timestamp: 1_700_000_000 + (i % 240)));

        await _client.PostAsync("/events/batch", Events.Array(events), TestContext.Current.CancellationToken);

        await Database.WaitForCountAsync(_db, "SELECT count(*) FROM events", 240, TimeSpan.FromSeconds(10));
        var expected = await Database.RowsAsync(_db,
            "SELECT type || ':' || extract(epoch FROM date_trunc('minute', ts))::bigint, count(*) FROM events GROUP BY 1 ORDER BY 1");
        var fromDb = await (await _client.GetAsync("/aggregates?source=db", TestContext.Current.CancellationToken)).ReadJsonAsync();
        Assert.Equal(
            expected.Select(r => ((string)r[0]!, (long)r[1]!)),
            fromDb.EnumerateObject().Select(p => (p.Name, p.Value.GetInt64())).OrderBy(p => p.Name, StringComparer.Ordinal));
        Assert.Equal(240, fromDb.EnumerateObject().Sum(p => p.Value.GetInt64()));
        var filtered = await (await _client.GetAsync("/aggregates?source=db&type=ad_clicked&from=1700000040&to=1700000100", TestContext.Current.CancellationToken)).ReadJsonAsync();
        Assert.Equal(["ad_clicked:1700000040", "ad_clicked:1700000100"], filtered.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task Source_db_is_refused_with_a_problem_when_the_value_is_unknown()
    {
        var response = await _client.GetAsync("/aggregates?source=disk", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("source", (await response.ReadJsonAsync()).GetProperty("field").GetString());
    }

    [Fact]
    public async Task Health_is_healthy_and_metrics_expose_the_sink_instruments()
    {
        await _client.PostAsync("/events", Events.Body(Events.Json("m-1")), TestContext.Current.CancellationToken);
        await Database.WaitForCountAsync(_db, "SELECT count(*) FROM events", 1, TimeSpan.FromSeconds(10));

        var health = await _client.GetStringAsync("/health", TestContext.Current.CancellationToken);
        var metrics = await _client.GetStringAsync("/metrics", TestContext.Current.CancellationToken);

        Assert.Equal("Healthy", health);
        var stats = Integration.StatsContract.AssertRoundTrips(await _client.GetByteArrayAsync("/stats", TestContext.Current.CancellationToken));
        Assert.Equal(("postgres", true, "closed"), (stats.Sink.Name, stats.Sink.Durable, stats.Sink.Circuit));
        Assert.Equal("1d", stats.Sink.Storage!.PartitionInterval);
        foreach (var name in new[] { "hermes_db_circuit_state", "hermes_db_rows_written_total", "hermes_db_copy_duration_seconds_bucket", "hermes_spill_bytes{", "hermes_spill_events{", "hermes_spill_replayed_total", "hermes_dead_letters_total", "hermes_spill_dropped_total{otel_scope_name=\"Hermes\",reason=\"spill_full\"}", "hermes_db_write_failures_total{otel_scope_name=\"Hermes\",class=\"connectivity\"}", "hermes_db_circuit_open_rejects_total" })
        {
            Assert.True(metrics.Contains(name, StringComparison.Ordinal), $"{name} missing from:\n{string.Join('\n', metrics.Split('\n').Where(l => l.StartsWith("hermes_", StringComparison.Ordinal)))}");
        }
    }
}

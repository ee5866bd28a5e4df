using System.Net;
using Hermes.Ingest.Sinks.Postgres;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;

namespace Hermes.Tests.Postgres;

/// <summary>
/// EVENT_RETENTION and ROLLUP_RETENTION against a real server: whole partitions go once they are older than the
/// retention (the clock moved ahead by running the maintenance pass as of a later time), nothing inside it is
/// lost, what went is counted, and intake refuses what retention would only delete.
/// </summary>
[NeedsPostgresServer]
[Collection(PostgresCollection.Name)]
public sealed class RetentionTests(SharedPostgres postgres) : IAsyncDisposable
{
    private const long Hour = 3_600;
    private readonly TempDirectory _spill = new("spill");

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public ValueTask DisposeAsync()
    {
        _spill.Dispose();

        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task Partitions_older_than_retention_are_dropped_whole_and_everything_inside_it_stays()
    {
        var db = await postgres.Server.CreateDatabaseAsync();
        await using var hermes = new HermesFactory(new()
        {
            ["DB_DSN"] = db,
            ["SPILL_DIR"] = _spill.Path,
            ["PARTITION_INTERVAL"] = "1h",
            ["EVENT_RETENTION"] = "3h",
            ["ROLLUP_RETENTION"] = "5h",
            ["MAX_FUTURE_SKEW"] = "6h",
        });
        var client = hermes.Start();
        var now = DateTimeOffset.UtcNow;
        var at = now.ToUnixTimeSeconds();

        // Ten events an hour from now+1h to now+5h, each hour in its own partition; and one poison row at now+1h.
        var lines = Enumerable.Range(1, 5).SelectMany(k => Enumerable.Range(0, 10).Select(i => Events.Json($"h{k}-{i}", timestamp: at + (k * Hour))))
            .Append(Events.Json("poison", timestamp: at + Hour, payload: """{"bad":"half\ud800"}"""));
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/events/batch?ack=durable", Events.Ndjson(lines), Token)).StatusCode);
        Assert.Equal(50L, await Database.ScalarAsync<long>(db, "SELECT count(*) FROM events"));
        Assert.Equal(1L, await Database.ScalarAsync<long>(db, "SELECT count(*) FROM dead_letters"));
        var maintainer = hermes.Service<PartitionMaintainer>();
        var metrics = hermes.Service<PostgresSinkMetrics>();

        // As of now+6h: events before the hour that holds now+3h go (hours +1 and +2); counts are kept 5 h, so all stay.
        await maintainer.RunOnceAsync(now.AddHours(6), Token);

        Assert.Equal(30L, await Database.ScalarAsync<long>(db, "SELECT count(*) FROM events"));
        Assert.Equal(0L, await Database.ScalarAsync<long>(db, $"SELECT count(*) FROM events WHERE ts < to_timestamp({at + (3 * Hour)})"));
        Assert.Equal(50m, await Database.ScalarAsync<decimal>(db, "SELECT sum(count) FROM event_rollups"));
        Assert.Equal(1L, await Database.ScalarAsync<long>(db, "SELECT count(*) FROM dead_letters"));
        Assert.Equal(20, metrics.RetentionEventsDropped);
        var dropped = metrics.PartitionsDropped(PartitionedTable.Events);
        Assert.True(dropped >= 2, $"{dropped} events partitions dropped");

        // The snapshot is rebuilt once a second.
        var stats = await Events.Eventually(
            async () => await (await client.GetAsync("/stats", Token)).ReadJsonAsync(),
            s => s.GetProperty("sink").GetProperty("storage").GetProperty("retention").GetProperty("droppedEvents").GetInt64() > 0);
        var storage = stats.GetProperty("sink").GetProperty("storage");
        Assert.Equal("1h", storage.GetProperty("partitionInterval").GetString());
        Assert.Equal(20, storage.GetProperty("retention").GetProperty("droppedEvents").GetInt64());
        Assert.Equal("3h", storage.GetProperty("retention").GetProperty("events").GetString());
        Assert.Equal(dropped, storage.GetProperty("retention").GetProperty("droppedPartitions").GetProperty("events").GetInt64());
        Assert.Equal(await Database.ScalarAsync<long>(db, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass"),
            storage.GetProperty("partitions").GetProperty("events").GetInt64());

        // As of now+8h: events of hours +3 and +4 go; the counts and the dead letter of hours +1 and +2 go too.
        await maintainer.RunOnceAsync(now.AddHours(8), Token);

        Assert.Equal(10L, await Database.ScalarAsync<long>(db, "SELECT count(*) FROM events"));
        Assert.Equal(30m, await Database.ScalarAsync<decimal>(db, "SELECT sum(count) FROM event_rollups"));
        Assert.Equal(0L, await Database.ScalarAsync<long>(db, "SELECT count(*) FROM dead_letters"));
        Assert.Equal(40, metrics.RetentionEventsDropped);
        Assert.True(metrics.PartitionsDropped(PartitionedTable.Rollups) >= 2);
        Assert.True(metrics.PartitionsDropped(PartitionedTable.DeadLetters) >= 1);

        var text = await client.GetStringAsync("/metrics", Token);
        Assert.Contains("hermes_retention_events_dropped_total{otel_scope_name=\"Hermes\"} 40", text);
        Assert.Contains("hermes_db_partitions{otel_scope_name=\"Hermes\",table=\"events\"}", text);
    }

    [Fact]
    public async Task An_event_older_than_retention_is_refused_with_a_400_naming_the_rule()
    {
        await using var hermes = new HermesFactory(new() { ["EVENT_RETENTION"] = "1d" });
        var client = hermes.Start();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        var old = await client.PostAsync("/events", Events.Body(Events.Json("old", timestamp: now - (49 * Hour))), Token);
        var recent = await client.PostAsync("/events", Events.Body(Events.Json("recent", timestamp: now - Hour)), Token);
        var batch = await client.PostAsync("/events/batch", Events.Ndjson([Events.Json("b-old", timestamp: now - (30 * Hour)), Events.Json("b-new", timestamp: now)]), Token);

        Assert.Equal(HttpStatusCode.BadRequest, old.StatusCode);
        Assert.Equal("application/problem+json", old.Content.Headers.ContentType?.MediaType);
        var problem = await old.ReadJsonAsync();
        Assert.Equal("timestamp", problem.GetProperty("field").GetString());
        Assert.Equal("retention", problem.GetProperty("rule").GetString());
        Assert.Contains("EVENT_RETENTION (1d)", problem.GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.Accepted, recent.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);
        var answer = await batch.ReadJsonAsync();
        Assert.Equal(1, answer.GetProperty("accepted").GetInt32());
        var rejected = Assert.Single(answer.GetProperty("rejected").EnumerateArray());
        Assert.Equal(0, rejected.GetProperty("index").GetInt32());
        Assert.Equal("retention", rejected.GetProperty("rule").GetString());
    }
}

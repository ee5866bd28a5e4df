using System.Net;
using Hermes.Ingest.Sinks.Durable;
using Hermes.Ingest.Sinks.Postgres;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;

namespace Hermes.Tests.Postgres;

/// <summary>
/// Schema v2 against a real server: events partitioned by time under a key that starts with time, partitions made
/// for whatever timestamps arrive without one per day since 1970, idempotency by (id, timestamp), and reads that
/// touch only the partitions of their range.
/// </summary>
[NeedsPostgresServer]
[Collection(PostgresCollection.Name)]
public sealed class PartitionTests(SharedPostgres postgres) : IAsyncLifetime
{
    private readonly TempDirectory _spill = new("spill");
    private string _db = "";

    public async ValueTask InitializeAsync() => _db = await postgres.Server.CreateDatabaseAsync();

    public ValueTask DisposeAsync()
    {
        _spill.Dispose();

        return ValueTask.CompletedTask;
    }

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static long Now => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private static string Today => DateTime.UtcNow.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture);

    private HermesFactory Hermes(Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?> { ["DB_DSN"] = _db, ["SPILL_DIR"] = _spill.Path, ["FLUSH_INTERVAL"] = "20ms" };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        return new HermesFactory(settings);
    }

    [Fact]
    public async Task Events_are_partitioned_by_day_under_a_key_that_starts_with_time()
    {
        await using var hermes = Hermes();
        var client = hermes.Start();

        var response = await client.PostAsync("/events?ack=durable", Events.Body(Events.Json("today-1", timestamp: Now)), Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        foreach (var (table, key) in new[] { ("events", "ts"), ("event_rollup_shards", "minute"), ("dead_letters", "ts") })
        {
            Assert.Equal($"RANGE ({key})", await Database.ScalarAsync<string>(_db, $"SELECT pg_get_partkeydef('{table}'::regclass)"));
        }

        Assert.Equal(["ts", "id"], await PrimaryKeyAsync("events"));
        Assert.Equal(["ts", "id"], await PrimaryKeyAsync("dead_letters"));
        Assert.Equal($"events_p{Today}", await Database.ScalarAsync<string>(_db, "SELECT tableoid::regclass::text FROM events WHERE id = 'today-1'"));
        var partitions = await PartitionsAsync("events");
        Assert.Contains("events_archive", partitions);
        Assert.Contains($"events_p{Today}", partitions);
    }

    [Fact]
    public async Task The_same_event_sent_again_is_stored_once_across_restarts_and_the_same_id_at_another_time_is_another_event()
    {
        var at = Now;
        await using (var first = Hermes())
        {
            var client = first.Start();
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/events?ack=durable", Events.Body(Events.Json("again", timestamp: at)), Token)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/events?ack=durable", Events.Body(Events.Json("again", timestamp: at)), Token)).StatusCode);
        }

        await using var second = Hermes(new() { ["WORKER_COUNT"] = "1", ["BATCH_SIZE"] = "1000" });
        var restarted = second.Start();

        // A full batch holding the stored event takes the COPY path, finds it stored and inserts the rest around it.
        var batch = Enumerable.Range(0, 399).Select(i => Events.Json($"fresh-{i}", timestamp: at)).Append(Events.Json("again", timestamp: at));
        Assert.Equal(HttpStatusCode.OK, (await restarted.PostAsync("/events/batch?ack=durable", Events.Ndjson(batch), Token)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await restarted.PostAsync("/events?ack=durable", Events.Body(Events.Json("again", timestamp: at + 60)), Token)).StatusCode);

        Assert.Equal(2L, await Database.ScalarAsync<long>(_db, "SELECT count(*) FROM events WHERE id = 'again'"));
        Assert.Equal(401L, await Database.ScalarAsync<long>(_db, "SELECT count(*) FROM events"));
        Assert.Equal(401m, await Database.ScalarAsync<decimal>(_db, "SELECT sum(count) FROM event_rollups"));
        Assert.Equal(1L, second.Service<DurableSinkMetrics>().Duplicates);
    }

    [Fact]
    public async Task One_event_for_each_day_since_1970_is_stored_without_a_partition_for_each_day()
    {
        await using var hermes = Hermes();
        var client = hermes.Start();
        var days = Now / 86_400;

        foreach (var chunk in Enumerable.Range(0, (int)days + 1).Chunk(5_000))
        {
            var lines = chunk.Select(day => Events.Json($"day-{day}", timestamp: (day * 86_400L) + 43_200 > Now ? Now : (day * 86_400L) + 43_200));
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/events/batch?ack=durable", Events.Ndjson(lines), Token)).StatusCode);
        }

        Assert.Equal(days + 1, await Database.ScalarAsync<long>(_db, "SELECT count(*) FROM events"));
        Assert.Equal(days + 1, (long)await Database.ScalarAsync<decimal>(_db, "SELECT sum(count) FROM event_rollups"));

        // The archive holds everything before today; today and the day ahead have their own. Nothing else.
        var partitions = await PartitionsAsync("events");
        Assert.InRange(partitions.Count, 2, 4);
        Assert.Equal(days, await Database.ScalarAsync<long>(_db, "SELECT count(*) FROM events_archive"));
        Assert.InRange((await PartitionsAsync("event_rollup_shards")).Count, 2, 4);
    }

    [Fact]
    public async Task A_partition_dropped_behind_hermes_back_is_made_again_for_the_next_event_which_is_stored_not_dead_lettered()
    {
        await using var hermes = Hermes();
        var client = hermes.Start();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/events?ack=durable", Events.Body(Events.Json("before", timestamp: Now)), Token)).StatusCode);

        // Another instance's retention (or an operator) removes today's partition while this one has it cached.
        await Database.ScalarAsync<int>(_db, $"ALTER TABLE events DETACH PARTITION events_p{Today}; DROP TABLE events_p{Today}; SELECT 1");

        var response = await client.PostAsync("/events?ack=durable", Events.Body(Events.Json("after", timestamp: Now)), Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1L, await Database.ScalarAsync<long>(_db, "SELECT count(*) FROM events WHERE id = 'after'"));
        Assert.Equal(0L, await Database.ScalarAsync<long>(_db, "SELECT count(*) FROM dead_letters"));
        Assert.Contains($"events_p{Today}", await PartitionsAsync("events"));
        Assert.Equal(0, hermes.Service<DurableSinkMetrics>().DeadLetters);
    }

    [Fact]
    public async Task Reads_for_a_time_range_touch_only_the_partitions_of_that_range()
    {
        await using var hermes = Hermes();
        var client = hermes.Start();
        var lines = new[] { Events.Json("old", timestamp: Events.Timestamp), Events.Json("new", timestamp: Now) };
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/events/batch?ack=durable", Events.Ndjson(lines), Token)).StatusCode);
        var rollups = hermes.Service<PersistedRollups>();
        var todayStart = Now - (Now % 86_400);

        var recent = await PlanAsync(rollups, type: null, from: todayStart, to: null);
        var past = await PlanAsync(rollups, type: "song_played", from: Events.Timestamp - 3_600, to: Events.Timestamp + 3_600);

        Assert.Contains($"event_rollup_shards_p{Today}", recent);
        Assert.DoesNotContain("event_rollup_shards_archive", recent);
        Assert.Contains("event_rollup_shards_archive", past);
        Assert.DoesNotContain($"event_rollup_shards_p{Today}", past);

        // The same query through the API: the dashboard's read.
        var body = await (await client.GetAsync($"/aggregates?source=db&from={todayStart}", Token)).ReadJsonAsync();
        Assert.Equal(1, body.EnumerateObject().Sum(p => p.Value.GetInt32()));
    }

    private static async Task<string> PlanAsync(PersistedRollups rollups, string? type, long? from, long? to)
    {
        await using var command = rollups.CreateQuery(type, from, to);
        command.CommandText = "EXPLAIN " + command.CommandText;
        await using var reader = await command.ExecuteReaderAsync(Token);
        var plan = new System.Text.StringBuilder();
        while (await reader.ReadAsync(Token))
        {
            plan.AppendLine(reader.GetString(0));
        }

        return plan.ToString();
    }

    private async Task<List<string>> PrimaryKeyAsync(string table) =>
        [.. (await Database.RowsAsync(_db,
            $"""
            SELECT a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            WHERE i.indrelid = '{table}'::regclass AND i.indisprimary ORDER BY k.n
            """)).Select(r => (string)r[0]!)];

    private async Task<List<string>> PartitionsAsync(string table) =>
        [.. (await Database.RowsAsync(_db, $"SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = '{table}'::regclass")).Select(r => (string)r[0]!)];
}

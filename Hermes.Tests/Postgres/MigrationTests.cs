using System.Net;
using Hermes.Ingest.Sinks.Postgres;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;
using Npgsql;

namespace Hermes.Tests.Postgres;

/// <summary>
/// A v1 database (events keyed by id alone, unpartitioned) with data, migrated in place by a v2 Hermes starting
/// on it: every row kept, every count unchanged, and <c>GET /aggregates?source=db</c> (what the dashboard reads)
/// answering the whole time, including while the events migration is held up.
/// </summary>
[NeedsPostgresServer]
[Collection(PostgresCollection.Name)]
public sealed class MigrationTests(SharedPostgres postgres) : IAsyncDisposable
{
    private const int V1Rows = 100_000;
    private readonly TempDirectory _spill = new("spill");

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public ValueTask DisposeAsync()
    {
        _spill.Dispose();

        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task A_v1_database_with_data_is_migrated_in_place_keeping_rows_and_counts_while_reads_keep_answering()
    {
        var db = await postgres.Server.CreateDatabaseAsync();
        await CreateV1DatabaseAsync(db);
        var totalBefore = await Database.ScalarAsync<decimal>(db, "SELECT sum(count) FROM event_rollups");
        var perMinuteBefore = await Database.RowsAsync(db, "SELECT type, minute, count FROM event_rollups ORDER BY minute, type");
        Assert.Equal((decimal)V1Rows, totalBefore);

        // Hold the events migration at its LOCK TABLE, the way a long-running migration of a big table would.
        await using var blocker = new NpgsqlConnection(db + ";Pooling=false");
        await blocker.OpenAsync(Token);
        var hold = await blocker.BeginTransactionAsync(Token);
        await using (var share = new NpgsqlCommand("LOCK TABLE events IN ACCESS SHARE MODE", blocker, hold))
        {
            await share.ExecuteNonQueryAsync(Token);
        }

        await using var hermes = new HermesFactory(new() { ["DB_DSN"] = db, ["SPILL_DIR"] = _spill.Path, ["FLUSH_INTERVAL"] = "20ms" });
        var client = hermes.Start();
        Assert.Equal(2, await Events.Eventually(() => Database.ScalarAsync<int>(db, "SELECT max(version) FROM schema_version"), v => v >= 2));

        // Mid-migration: counts read from the (already partitioned) rollups, and intake keeps accepting.
        var during = await client.GetAsync("/aggregates?source=db", Token);
        Assert.Equal(HttpStatusCode.OK, during.StatusCode);
        Assert.Equal((long)totalBefore, (await during.ReadJsonAsync()).EnumerateObject().Sum(p => p.Value.GetInt64()));
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var posted = await client.PostAsync("/events/batch", Events.Ndjson(Enumerable.Range(0, 50).Select(i => Events.Json($"during-{i}", timestamp: now))), Token);
        Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
        Assert.Equal(2, await Database.ScalarAsync<int>(db, "SELECT max(version) FROM schema_version"));

        await hold.CommitAsync(Token);
        Assert.Equal(PostgresSchema.LatestVersion,
            await Events.Eventually(() => Database.ScalarAsync<int>(db, "SELECT max(version) FROM schema_version"), v => v == PostgresSchema.LatestVersion, TimeSpan.FromSeconds(60)));
        Assert.Equal(V1Rows + 50L, await Database.WaitForCountAsync(db, "SELECT count(*) FROM events", V1Rows + 50, TimeSpan.FromSeconds(60)));

        // Rows kept, in the archive partition, under the new key; counts unchanged, plus what arrived meanwhile.
        // The archive reaches past the newest v1 row (today), so today's new events land there too.
        Assert.Equal((long)V1Rows, await Database.ScalarAsync<long>(db, "SELECT count(*) FROM events_archive WHERE id NOT LIKE 'during-%'"));
        Assert.Equal(V1Rows + 50L, await Database.ScalarAsync<long>(db, "SELECT count(DISTINCT id) FROM events"));
        Assert.Equal(totalBefore + 50, await Database.ScalarAsync<decimal>(db, "SELECT sum(count) FROM event_rollups"));
        var perMinuteAfter = await Database.RowsAsync(db, $"SELECT type, minute, count FROM event_rollups WHERE minute < to_timestamp({now - (now % 60)}) ORDER BY minute, type");
        Assert.Equal(perMinuteBefore.Where(r => (DateTime)r[1]! < DateTime.UnixEpoch.AddSeconds(now - (now % 60))).Select(r => string.Join('|', r)),
            perMinuteAfter.Select(r => string.Join('|', r)));
        Assert.Equal("RANGE (ts)", await Database.ScalarAsync<string>(db, "SELECT pg_get_partkeydef('events'::regclass)"));

        // A v1 event sent again (same id, same timestamp) is still stored once; dead letters came across.
        var id = await Database.ScalarAsync<string>(db, "SELECT id FROM events_archive LIMIT 1");
        var ts = await Database.ScalarAsync<long>(db, $"SELECT extract(epoch FROM ts)::bigint FROM events WHERE id = '{id}'");
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/events?ack=durable", Events.Body(Events.Json(id, type: "song_played", timestamp: ts)), Token)).StatusCode);
        Assert.Equal(1L, await Database.ScalarAsync<long>(db, $"SELECT count(*) FROM events WHERE id = '{id}'"));
        Assert.Equal(V1Rows + 50L, (long)await Database.ScalarAsync<decimal>(db, "SELECT sum(count) FROM event_rollups"));
        Assert.Equal(["dead-1", "dead-2"], (await Database.RowsAsync(db, "SELECT id FROM dead_letters ORDER BY id")).Select(r => (string)r[0]!));
        Assert.Equal(1_600_000_000L, await Database.ScalarAsync<long>(db, "SELECT extract(epoch FROM ts)::bigint FROM dead_letters WHERE id = 'dead-1'"));
    }

    /// <summary>What Hermes v1 left: migration 1's tables, and rows spread over old days and the last hour.</summary>
    private static async Task CreateV1DatabaseAsync(string db)
    {
        await using var connection = new NpgsqlConnection(db + ";Pooling=false");
        await connection.OpenAsync(Token);
        foreach (var sql in new[]
        {
            "CREATE TABLE schema_version (version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
            PostgresSchema.Migrations[0].Sql,
            $"INSERT INTO schema_version (version, description) VALUES (1, '{PostgresSchema.Migrations[0].Description}')",
            $$"""
            INSERT INTO events (id, user_id, type, ts, payload, received_at)
            SELECT md5(g::text), 'user-' || (g % 100), (ARRAY['trip_started', 'song_played', 'ad_clicked', 'location_update'])[g % 4 + 1],
                   CASE WHEN g % 2 = 0 THEN to_timestamp(1700000000 + g * 60) ELSE date_trunc('second', now()) - make_interval(secs => g % 3600) END,
                   '{"k":1}'::jsonb, now()
            FROM generate_series(1, {{V1Rows}}) AS g
            """,
            "INSERT INTO event_rollup_shards SELECT type, date_trunc('minute', ts, 'UTC'), 0, count(*) FROM events GROUP BY 1, 2",
            """
            INSERT INTO dead_letters (id, user_id, type, ts, payload, received_at, error, sqlstate)
            VALUES ('dead-1', 'u', 'song_played', 1600000000, '{"bad":1}', now(), 'refused', '22P02'),
                   ('dead-2', 'u', 'song_played', 1700000000, '{"bad":2}', now(), 'refused', '22P02')
            """,
        })
        {
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync(Token);
        }
    }
}

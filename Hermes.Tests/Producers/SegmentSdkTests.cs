using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Hermes.Ingest.Telemetry;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;
using Npgsql;

namespace Hermes.Tests.Producers;

/// <summary>
/// The Segment and RudderStack Node SDKs from npm, unchanged and at their default settings, sending to a real Hermes
/// over loopback that writes to a real PostgreSQL. The test stalls the database (a transaction holds <c>events</c>
/// locked) until the small queue has overflowed and Hermes has answered 503, then lets it go: each SDK's own retry
/// policy is what gets every refused event stored.
/// </summary>
[NeedsPostgresServer]
[NeedsNode]
[Collection(PostgresCollection.Name)]
public sealed class SegmentSdkTests(SharedPostgres postgres)
{
    private const string WriteKey = "sdk-write-key-0123456789";
    private const int Tracks = 3000;

    [Theory]
    [InlineData("segment")]
    [InlineData("rudderstack")]
    public async Task Each_SDKs_tracks_are_retried_past_a_full_queue_until_all_are_stored_once_and_counted(string sdk)
    {
        var db = await postgres.Server.CreateDatabaseAsync();
        using var spill = new TempDirectory("spill");
        await using var hermes = new HermesFactory(new()
        {
            ["DB_DSN"] = db,
            ["SPILL_DIR"] = spill.Path,
            ["API_KEYS"] = $"{sdk}:{WriteKey}",
            // 1,000 events of room and one worker taking 1,000 at a time: while the database stalls, one batch waits at
            // PostgreSQL and 1,000 in the queue, and the SDK's ~10,000 calls/s overflow it at once. The overload is
            // transient, as a stall is: once it ends the queue has room for what was refused. (Under sustained
            // overload RudderStack's 3 retries run out and it drops the batch; see README, Segment and RudderStack SDKs.)
            // FLUSH_INTERVAL outlasts the stall, so Retry-After says "soon" (a queue about to move), not "stuck" (30 s).
            ["QUEUE_SIZE"] = "1000",
            ["BATCH_SIZE"] = "1000",
            ["FLUSH_INTERVAL"] = "2s",
            ["WORKER_COUNT"] = "1",
        });
        var client = hermes.Start();
        var metrics = hermes.Service<IngestMetrics>();
        var run = $"{sdk}-{Guid.NewGuid():N}";

        var stall = await DatabaseStall.BeginAsync(db);
        var sending = NodeProducer.SendAsync(sdk, client.BaseAddress!, WriteKey, Tracks, run, TimeSpan.FromMinutes(3));
        var refused = await Events.Eventually(() => Task.FromResult(metrics.Rejected(RejectReason.QueueFull)), n => n > 0, TimeSpan.FromSeconds(60));
        await stall.DisposeAsync();
        var sent = await sending;

        TestContext.Current.TestOutputHelper?.WriteLine($"{sent.Output}\n503 answered for {metrics.Rejected(RejectReason.QueueFull)} events");
        Assert.True(refused > 0, "The queue never overflowed, so no 503 was answered and no retry was tested.");
        Assert.True(sent.ExitCode == 0, sent.Output);
        Assert.Equal(0, sent.Failed);

        // Stored once: one row per track call, every SDK-made id distinct, every call's index present.
        var stored = await Database.WaitForCountAsync(db, "SELECT count(*) FROM events", Tracks, TimeSpan.FromSeconds(30));
        Assert.Equal(Tracks, stored);
        var rows = await Database.RowsAsync(db, $"""
            SELECT count(DISTINCT id), count(DISTINCT (payload->>'i')::int), min((payload->>'i')::int), max((payload->>'i')::int),
                   count(*) FILTER (WHERE payload->>'run' <> '{run}'), count(*) FILTER (WHERE user_id LIKE 'anon-%')
            FROM events
            """);
        Assert.Equal([(long)Tracks, (long)Tracks, 0, Tracks - 1, 0L, (long)Tracks / 2], rows[0]);

        // Counted: the persisted per-type rollups, and the key's label, once per call.
        var perType = await Database.RowsAsync(db, "SELECT type, sum(count)::bigint FROM event_rollups GROUP BY type ORDER BY type");
        Assert.Equal(
            [["ad_clicked", 750L], ["location_update", 750L], ["song_played", 750L], ["trip_started", 750L]],
            perType.Select(r => r.ToList()));
        Assert.Equal(Tracks, metrics.KeyAccepted(sdk));
        Assert.Equal((sent.Identifies, sent.Pages), (metrics.SegmentIgnored("identify"), metrics.SegmentIgnored("page")));
    }

    [Fact]
    public async Task A_resent_batch_with_the_same_messageIds_and_timestamps_is_stored_once()
    {
        var db = await postgres.Server.CreateDatabaseAsync();
        using var spill = new TempDirectory("spill");
        await using var hermes = new HermesFactory(new() { ["DB_DSN"] = db, ["SPILL_DIR"] = spill.Path });
        var client = hermes.Start();
        var now = DateTimeOffset.UtcNow;
        var calls = Enumerable.Range(0, 50).Select(i =>
            $$"""{"type":"track","event":"Song Played","userId":"u","messageId":"{{Guid.NewGuid()}}","timestamp":"{{now.AddMilliseconds(i * 37):O}}"}""");
        var body = $$"""{"batch":[{{string.Join(',', calls)}}]}""";

        // The first answer "lost" on the way back: the SDK sends the same body again.
        for (var attempt = 0; attempt < 2; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/batch?ack=durable") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String("any-key:"u8.ToArray()));
            var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(50L, await Database.ScalarAsync<long>(db, "SELECT count(*) FROM events"));
        Assert.Equal(50m, await Database.ScalarAsync<decimal>(db, "SELECT sum(count) FROM event_rollups"));
        Assert.Equal(100, hermes.Service<IngestMetrics>().Accepted);
    }

    /// <summary>A transaction holding <c>events</c> (and so every partition) locked: writes wait until it ends.</summary>
    private sealed class DatabaseStall : IAsyncDisposable
    {
        private readonly NpgsqlConnection _connection;
        private readonly NpgsqlTransaction _transaction;

        private DatabaseStall(NpgsqlConnection connection, NpgsqlTransaction transaction) => (_connection, _transaction) = (connection, transaction);

        public static async Task<DatabaseStall> BeginAsync(string connectionString)
        {
            // Hermes creates its schema as it starts, without holding up the start.
            Assert.Equal(1, await Database.WaitForCountAsync(connectionString, "SELECT (to_regclass('events') IS NOT NULL)::int::bigint", 1, TimeSpan.FromSeconds(30)));
            var connection = new NpgsqlConnection(connectionString + ";Pooling=false");
            await connection.OpenAsync();
            var transaction = await connection.BeginTransactionAsync();
            await using var command = new NpgsqlCommand("LOCK TABLE events IN ACCESS EXCLUSIVE MODE", connection, transaction);
            await command.ExecuteNonQueryAsync();
            return new DatabaseStall(connection, transaction);
        }

        public async ValueTask DisposeAsync()
        {
            await _transaction.RollbackAsync();
            await _connection.DisposeAsync();
        }
    }
}

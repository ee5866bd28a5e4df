using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Hermes.Ingest.Telemetry;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Postgres;

namespace Hermes.Tests.Producers;

/// <summary>
/// The Segment and RudderStack Node SDKs from npm, unchanged and at their default settings, sending to a real Hermes
/// over loopback that writes to a real PostgreSQL. The queue is small on purpose: the SDKs' bursts overflow it, so
/// Hermes answers 503 and each SDK's own retry policy is what gets every event stored.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class SegmentSdkTests(SharedPostgres postgres)
{
    private const string WriteKey = "sdk-write-key-0123456789";
    private const int Tracks = 3000;

    [Theory]
    [InlineData("segment")]
    [InlineData("rudderstack")]
    public async Task Each_SDKs_tracks_overflow_a_small_queue_and_are_retried_until_all_are_stored_once_and_counted(string sdk)
    {
        var db = await postgres.Server.CreateDatabaseAsync();
        var spill = Path.Combine(Path.GetTempPath(), "hermes-spill-" + Guid.NewGuid().ToString("N")[..12]);
        await using var hermes = new HermesFactory(new()
        {
            ["DB_DSN"] = db,
            ["SPILL_DIR"] = spill,
            ["API_KEYS"] = $"{sdk}:{WriteKey}",
            // 200 events of room, drained once the head has waited 100 ms (BATCH_SIZE stays above it), by one worker:
            // about 2,000 events/s, while an SDK bursts its thousands of calls in well under a second.
            ["QUEUE_SIZE"] = "200",
            ["WORKER_COUNT"] = "1",
        });
        var client = hermes.Start();
        var run = $"{sdk}-{Guid.NewGuid():N}";

        var sent = await NodeProducer.SendAsync(sdk, client.BaseAddress!, WriteKey, Tracks, run, TimeSpan.FromMinutes(3));

        TestContext.Current.TestOutputHelper?.WriteLine($"{sent.Output}\n503 answered: {hermes.Service<IngestMetrics>().Rejected(RejectReason.QueueFull)} events");
        Assert.True(sent.ExitCode == 0, sent.Output);
        Assert.Equal(0, sent.Failed);
        var metrics = hermes.Service<IngestMetrics>();
        Assert.True(metrics.Rejected(RejectReason.QueueFull) > 0, $"No 503 was answered, so no retry was tested: {sent.Output}");

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
        Directory.Delete(spill, recursive: true);
    }

    [Fact]
    public async Task A_resent_batch_with_the_same_messageIds_and_timestamps_is_stored_once()
    {
        var db = await postgres.Server.CreateDatabaseAsync();
        var spill = Path.Combine(Path.GetTempPath(), "hermes-spill-" + Guid.NewGuid().ToString("N")[..12]);
        await using var hermes = new HermesFactory(new() { ["DB_DSN"] = db, ["SPILL_DIR"] = spill });
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
        Directory.Delete(spill, recursive: true);
    }
}

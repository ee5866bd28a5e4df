using System.Diagnostics;
using System.Text.Json;
using Hermes.Client;
using Hermes.Ingest.Diagnostics;
using Hermes.Ingest.Telemetry;
using Hermes.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace Hermes.Tests.Client;

/// <summary>The client against a real Hermes on Kestrel over loopback: what arrives, and what is retried and what is not.</summary>
public sealed class ClientDeliveryTests
{
    private static readonly string[] Types = ["trip_started", "song_played", "ad_clicked", "location_update"];

    [Fact]
    public async Task Tracked_events_arrive_with_their_ids_payloads_and_timestamps_in_gzip_NDJSON_batches()
    {
        // Arrange
        var sink = new RecordingSink();
        await using var hermes = new HermesFactory().WithSink(sink);
        var http = hermes.Start();
        await using var harness = ClientHarness.Start(http.BaseAddress!, s => s.MaxBatchEvents = 1_000);
        var at = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
        var tracked = new Dictionary<string, (string User, string Type, int Seq)>();

        // Act: 2,500 events, several batches' worth, with payloads that include non-ASCII text.
        for (var i = 0; i < 2_500; i++)
        {
            var id = harness.Client.Track(Types[i % 4], $"user-{i % 37}", new { seq = i, city = "Zürich", tags = new[] { "a", "b" } }, at.AddSeconds(i % 120));
            tracked.Add(Assert.NotNull(id).ToString(), ($"user-{i % 37}", Types[i % 4], i));
        }

        await harness.FlushAsync();

        // Assert: every event once, as tracked.
        await Events.Eventually(() => Task.FromResult(sink.Events.Count), count => count == 2_500);
        Assert.Equal(2_500, sink.Events.Count);
        var types = hermes.Service<Hermes.Ingest.Events.EventTypeCatalog>();
        foreach (var e in sink.Events)
        {
            var (user, type, seq) = tracked[e.Id];
            Assert.Equal(user, e.UserId);
            Assert.Equal(type, types.Names[e.Type]);
            Assert.Equal(1_700_000_000 + seq % 120, e.Timestamp);
            using var payload = JsonDocument.Parse(e.Payload!);
            Assert.Equal(seq, payload.RootElement.GetProperty("seq").GetInt32());
            Assert.Equal("Zürich", payload.RootElement.GetProperty("city").GetString());
            Assert.Equal(7, Guid.Parse(e.Id).Version);
        }

        var stats = harness.Client.Statistics;
        Assert.Equal((2_500, 2_500, 0, 0), (stats.Tracked, stats.Sent, stats.Refused, stats.Buffered + stats.InFlight));
        Assert.Equal(2_500, harness.Measure("hermes_client_events_sent"));
        Assert.Equal(2_500, harness.Measure("hermes_client_events_tracked"));

        // Batches of at most 1,000 events, as gzip NDJSON (HttpClient's own logging shows the request headers).
        Assert.Contains("Content-Encoding: gzip", harness.Logs.All, StringComparison.Ordinal);
        Assert.Contains("Content-Type: application/x-ndjson", harness.Logs.All, StringComparison.Ordinal);
        Assert.True(harness.Logs.Entries.Count(e => e.Message.StartsWith("Sending HTTP request POST", StringComparison.Ordinal)) >= 3,
            "2,500 events in batches of at most 1,000 take at least three requests");
    }

    [Fact]
    public async Task A_partial_batch_goes_out_once_the_flush_interval_has_passed()
    {
        var sink = new RecordingSink();
        await using var hermes = new HermesFactory().WithSink(sink);
        var http = hermes.Start();
        await using var harness = ClientHarness.Start(http.BaseAddress!, s => (s.MaxBatchEvents, s.FlushInterval) = (1_000, TimeSpan.FromMilliseconds(200)));

        harness.Client.Track("song_played", "user-1", new { song = "a" });
        harness.Client.Track("ad_clicked", "user-2");

        // No FlushAsync: three events are far from a full batch, so only the interval sends them.
        var arrived = await Events.Eventually(() => Task.FromResult(sink.Events.Count), count => count == 2, TimeSpan.FromSeconds(15));
        Assert.Equal(2, arrived);
        Assert.Null(sink.Events.Single(e => e.UserId == "user-2").Payload);
    }

    [Fact]
    public async Task An_invalid_event_is_refused_with_its_field_and_rule_and_the_rest_of_its_batch_is_sent()
    {
        await using var hermes = new HermesFactory();
        var http = hermes.Start();
        await using var harness = ClientHarness.Start(http.BaseAddress!);

        for (var i = 0; i < 5; i++)
        {
            harness.Client.Track("song_played", "user-1", new { i });
        }

        var bad = harness.Client.Track("song_skipped", "user-1");
        await harness.FlushAsync();

        var stats = harness.Client.Statistics;
        Assert.Equal((5L, 1L), (stats.Sent, stats.Refused));
        Assert.Equal(1, harness.Metrics.RefusedFor("type", "allowed-values"));
        Assert.Equal(1, harness.Measure("hermes_client_events_refused", "rule", "allowed-values"));
        Assert.Equal(0, harness.Metrics.Retries("400") + harness.Metrics.Retries("transport"));
        var warning = Assert.Single(harness.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("refused 1 of the 6 events", StringComparison.Ordinal));
        Assert.Contains($"event {bad} ('type': allowed-values)", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_key_is_not_retried_a_good_one_is_sent_as_X_Api_Key_and_neither_is_ever_logged()
    {
        const string Good = "mobile-key-0123456789abcdef";
        const string Wrong = "wrong-key-0123456789abcdef";
        await using var hermes = new HermesFactory(new() { ["API_KEYS"] = $"mobile:{Good}" });
        var http = hermes.Start();
        var metrics = hermes.Service<IngestMetrics>();

        await using (var wrong = ClientHarness.Start(http.BaseAddress!, s => s.ApiKey = Wrong))
        {
            for (var i = 0; i < 10; i++)
            {
                wrong.Client.Track("ad_clicked", "user-1");
            }

            await wrong.FlushAsync();

            Assert.Equal((0L, 10L), (wrong.Client.Statistics.Sent, wrong.Client.Statistics.Refused));
            Assert.Equal(10, wrong.Metrics.RefusedFor("X-Api-Key", "api-key"));
            Assert.Equal(1, metrics.Rejected(RejectReason.Unauthorized)); // one request: a 401 is never retried
            Assert.Contains(wrong.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("with 401 (X-Api-Key/api-key)", StringComparison.Ordinal));
            Assert.DoesNotContain(Wrong, wrong.Logs.All, StringComparison.Ordinal);
        }

        await using var good = ClientHarness.Start(http.BaseAddress!, s => s.ApiKey = Good);
        for (var i = 0; i < 10; i++)
        {
            good.Client.Track("ad_clicked", "user-1");
        }

        await good.FlushAsync();

        Assert.Equal(10, good.Client.Statistics.Sent);
        Assert.Equal(10, metrics.KeyAccepted("mobile"));
        // HttpClient logged the request's headers (Trace): the key's header is there, its value redacted.
        Assert.Contains("X-Api-Key: *", good.Logs.All, StringComparison.Ordinal);
        Assert.DoesNotContain(Good, good.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rate_limited_batch_waits_the_Retry_After_that_Hermes_gives_before_it_is_resent()
    {
        // 100 events/s with a burst of 100: the first 100-event batch passes, each later one finds ~0 tokens and is
        // told to come back in 1 s, when the bucket is full again.
        await using var hermes = new HermesFactory(new() { ["RATE_LIMIT_PER_KEY"] = "100", ["RATE_LIMIT_BURST"] = "100" });
        var http = hermes.Start();
        var metrics = hermes.Service<IngestMetrics>();
        await using var harness = ClientHarness.Start(http.BaseAddress!, s => (s.MaxBatchEvents, s.FlushInterval) = (100, TimeSpan.FromSeconds(30)));
        var clock = Stopwatch.StartNew();

        for (var i = 0; i < 300; i++)
        {
            harness.Client.Track("location_update", "user-1", new { i });
        }

        await harness.FlushAsync();

        Assert.Equal(300, harness.Client.Statistics.Sent);
        // Exactly one 429 for each of the two later batches: each was resent only after the full Retry-After.
        // A client that came back sooner would have been refused again.
        Assert.Equal(2, harness.Metrics.Retries("429"));
        Assert.Equal(200, metrics.KeyRateLimited(IngestMetrics.AnonymousKey));
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.9), $"two Retry-After: 1 waits, yet all was sent in {clock.Elapsed}");
    }

    [Fact]
    public async Task A_batch_larger_than_the_keys_whole_burst_is_sent_in_halves_instead_of_retried_forever()
    {
        await using var hermes = new HermesFactory(new() { ["RATE_LIMIT_PER_KEY"] = "1000", ["RATE_LIMIT_BURST"] = "64" });

        await using var harness = await SendOneBatchOf200Async(hermes);

        Assert.Single(harness.Logs.Entries, e => e.Message.Contains("sending it in halves", StringComparison.Ordinal));
        Assert.Contains("(429 events/burst)", harness.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_batch_over_MAX_BATCH_EVENTS_is_sent_in_halves()
    {
        await using var hermes = new HermesFactory(new() { ["MAX_BATCH_EVENTS"] = "50" });

        await using var harness = await SendOneBatchOf200Async(hermes);

        Assert.Equal(3, hermes.Service<IngestMetrics>().Rejected(RejectReason.TooLarge)); // 200, then each 100, refused; 50s pass
        Assert.Contains("(413 events/max-size)", harness.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Each_batch_is_a_producer_span_whose_trace_continues_in_Hermes()
    {
        var stopped = new System.Collections.Concurrent.ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is HermesClientTelemetry.ActivitySourceName or "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await using var hermes = new HermesFactory();
        var http = hermes.Start();
        await using var harness = ClientHarness.Start(http.BaseAddress!);

        for (var i = 0; i < 37; i++)
        {
            harness.Client.Track("trip_started", "user-1");
        }

        await harness.FlushAsync();

        var send = Assert.Single(stopped, a => a.OperationName == "hermes.client.send" && Equals(a.GetTagItem("hermes.batch.size"), 37));
        Assert.Equal(ActivityKind.Producer, send.Kind);
        Assert.Equal("sent", send.GetTagItem("hermes.client.outcome"));
        Assert.Null(send.Parent); // the sender's own root, not a child of whatever resolved the client
        var intake = await Events.Eventually(
            () => Task.FromResult(stopped.FirstOrDefault(a => a.Source.Name == "Microsoft.AspNetCore" && a.TraceId == send.TraceId)),
            a => a is not null);
        Assert.NotNull(intake); // Hermes's request span is in the batch's trace: traceparent went with the attempt
    }

    /// <summary>
    /// Tracks 200 events that go out as one batch (the interval never fires first) to <paramref name="hermes"/>, and
    /// waits until it has answered them all: every one sent, none refused.
    /// </summary>
    private static async Task<ClientHarness> SendOneBatchOf200Async(HermesFactory hermes)
    {
        var harness = ClientHarness.Start(hermes.Start().BaseAddress!, s => (s.MaxBatchEvents, s.FlushInterval) = (200, TimeSpan.FromSeconds(30)));
        try
        {
            for (var i = 0; i < 200; i++)
            {
                harness.Client.Track("song_played", "user-1");
            }

            await harness.FlushAsync();
            Assert.Equal((200L, 0L), (harness.Client.Statistics.Sent, harness.Client.Statistics.Refused));
            return harness;
        }
        catch
        {
            await harness.DisposeAsync();
            throw;
        }
    }
}

using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Hermes.Ingest.Telemetry;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Integration;

/// <summary>
/// POST /v1/batch and /v1/track over real HTTP, sent the way the Segment and RudderStack SDKs send them (see
/// Producers/ for the SDKs themselves): the write key in HTTP Basic auth, gzip labelled form-urlencoded, the answers
/// whose status decides whether an SDK retries or drops.
/// </summary>
public sealed class SegmentApiTests
{
    private const string WriteKey = "segment-0123456789abcdef";

    private static string Now => DateTimeOffset.UtcNow.ToString("O");

    private static string Track(string id, string @event = "Song Played", string user = "u-1") =>
        $$"""{"type":"track","properties":{"i":1},"event":"{{@event}}","userId":"{{user}}","messageId":"{{id}}","timestamp":"{{Now}}"}""";

    private static string Batch(params string[] calls) => $$"""{"batch":[{{string.Join(',', calls)}}],"writeKey":"{{WriteKey}}","sentAt":"{{Now}}"}""";

    /// <summary>As @segment/analytics-node sends: JSON, <c>Authorization: Basic base64(key:)</c>.</summary>
    private static HttpRequestMessage Segment(string body, string? key = WriteKey, string path = "/v1/batch")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(key + ":")));
        }

        return request;
    }

    /// <summary>As @rudderstack/rudder-sdk-node sends: gzip JSON labelled application/x-www-form-urlencoded.</summary>
    private static HttpRequestMessage Rudder(string body, string key = WriteKey)
    {
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes(body));
        }

        var content = new ByteArrayContent(compressed.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded");
        content.Headers.ContentEncoding.Add("gzip");
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/batch") { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(key + ":")));
        return request;
    }

    [Fact]
    public async Task A_batch_with_the_write_key_is_answered_200_success_and_counted_under_the_keys_label()
    {
        var sink = new RecordingSink();
        await using var hermes = new HermesFactory(new() { ["API_KEYS"] = $"web:{WriteKey}" }).WithSink(sink);
        var client = hermes.Start();

        var response = await client.SendAsync(Segment(Batch(Track("a"), Track("b", "Trip Started"))), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await response.ReadJsonAsync();
        Assert.True(json.GetProperty("success").GetBoolean());
        Assert.Equal((2, 0), (json.GetProperty("accepted").GetInt32(), json.GetProperty("ignored").GetInt32()));
        Assert.Equal(2, hermes.Service<IngestMetrics>().KeyAccepted("web"));
        await Events.Eventually(() => Task.FromResult(sink.Events.Count), n => n == 2);
        Assert.Equal(["a:song_played:u-1", "b:trip_started:u-1"],
            sink.Events.Select(e => $"{e.Id}:{Ingest.Configuration.IngestOptions.DefaultEventTypes[e.Type]}:{e.UserId}").Order());
    }

    [Fact]
    public async Task The_write_key_takes_the_same_rate_limit_as_the_key_on_events()
    {
        await using var hermes = new HermesFactory(new() { ["API_KEYS"] = $"web:{WriteKey}", ["RATE_LIMIT_PER_KEY"] = "0.5", ["RATE_LIMIT_BURST"] = "2" });
        var client = hermes.Start();

        var first = await client.SendAsync(Segment(Batch(Track("a"), Track("b"))), TestContext.Current.CancellationToken);
        var second = await client.SendAsync(Segment(Batch(Track("c"))), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.NotNull(second.Headers.RetryAfter?.Delta); // both SDKs retry a 429 after it
        Assert.Equal((2, 1), (hermes.Service<IngestMetrics>().KeyAccepted("web"), hermes.Service<IngestMetrics>().KeyRateLimited("web")));
    }

    [Fact]
    public async Task RudderStacks_gzip_labelled_form_urlencoded_is_read_as_JSON()
    {
        await using var hermes = new HermesFactory(new() { ["API_KEYS"] = WriteKey });
        var client = hermes.Start();

        var response = await client.SendAsync(Rudder(Batch(Track("r-1"))), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, (await response.ReadJsonAsync()).GetProperty("accepted").GetInt32());
    }

    [Theory]
    [InlineData(null, "No write key was sent")]
    [InlineData("wrong-key-0123456789", "The write key is not a producer key")]
    public async Task Without_a_producer_key_as_write_key_the_answer_is_401_saying_how_to_send_it(string? key, string says)
    {
        await using var hermes = new HermesFactory(new() { ["API_KEYS"] = WriteKey });
        var client = hermes.Start();

        var response = await client.SendAsync(Segment(Batch(Track("x")), key), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Basic", response.Headers.WwwAuthenticate.Single().Scheme);
        var problem = await response.ReadJsonAsync();
        Assert.Equal(("Authorization", "write-key"), (problem.GetProperty("field").GetString(), problem.GetProperty("rule").GetString()));
        Assert.StartsWith(says, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, hermes.Service<IngestMetrics>().Rejected(RejectReason.Unauthorized));
    }

    [Fact]
    public async Task Without_API_KEYS_any_write_key_is_accepted_as_on_the_other_endpoints()
    {
        await using var hermes = new HermesFactory();
        var client = hermes.Start();

        var response = await client.SendAsync(Segment(Batch(Track("x")), "whatever"), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, hermes.Service<IngestMetrics>().KeyAccepted(IngestMetrics.AnonymousKey));
    }

    [Fact]
    public async Task Other_calls_are_answered_200_counted_by_call_and_not_stored()
    {
        var sink = new RecordingSink();
        await using var hermes = new HermesFactory().WithSink(sink);
        var client = hermes.Start();

        var response = await client.SendAsync(Segment(Batch(
            """{"type":"identify","userId":"u","traits":{"plan":"pro"},"messageId":"i"}""",
            """{"type":"page","userId":"u","name":"Home","messageId":"p"}""")), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await response.ReadJsonAsync();
        Assert.Equal((0, 2), (json.GetProperty("accepted").GetInt32(), json.GetProperty("ignored").GetInt32()));
        var metrics = hermes.Service<IngestMetrics>();
        Assert.Equal((1, 1, 0), (metrics.SegmentIgnored("identify"), metrics.SegmentIgnored("page"), metrics.SegmentIgnored("alias")));
        Assert.Equal(0, metrics.Accepted);
    }

    /// <summary>Its own process, as in ObservabilityTests: instruments are process-wide.</summary>
    [Fact]
    public async Task Ignored_calls_are_exported_as_hermes_segment_calls_ignored_total_by_call()
    {
        await using var hermes = HermesProcess.Start([]);
        await hermes.WaitUntilAliveAsync(TimeSpan.FromSeconds(30));
        var response = await hermes.Client.SendAsync(Segment(Batch("""{"type":"alias","userId":"u","previousId":"a","messageId":"al"}""")), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var line = await Events.Eventually(
            async () => (await hermes.Client.GetStringAsync("/metrics")).Split('\n').FirstOrDefault(l => l.StartsWith("hermes_segment_calls_ignored_total{", StringComparison.Ordinal) && l.Contains("call=\"alias\"", StringComparison.Ordinal)),
            l => l is not null && l.EndsWith(" 1", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20));

        Assert.EndsWith(" 1", line);
    }

    [Fact]
    public async Task An_unknown_event_is_rejected_by_index_while_the_rest_of_the_batch_is_queued()
    {
        await using var hermes = new HermesFactory();
        var client = hermes.Start();

        var response = await client.SendAsync(Segment(Batch(Track("ok"), Track("bad", "Song Skipped"))), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var rejected = (await response.ReadJsonAsync()).GetProperty("rejected").EnumerateArray().Single();
        Assert.Equal((1, "event", "allowed-values"), (rejected.GetProperty("index").GetInt32(), rejected.GetProperty("field").GetString(), rejected.GetProperty("rule").GetString()));
        Assert.Equal(1, hermes.Service<IngestMetrics>().Rejected(RejectReason.Invalid));
    }

    [Fact]
    public async Task A_batch_with_nothing_valid_is_400_so_the_SDKs_drop_it_rather_than_retry()
    {
        await using var hermes = new HermesFactory();
        var client = hermes.Start();

        var response = await client.SendAsync(Segment(Batch(Track("bad", "Song Skipped"))), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.ReadJsonAsync();
        Assert.Equal("urn:hermes:problem:invalid-batch", problem.GetProperty("type").GetString());
        Assert.Equal("event", problem.GetProperty("rejected")[0].GetProperty("field").GetString());
    }

    [Theory]
    [InlineData("""[{"type":"track"}]""")]
    [InlineData("""{"batch":[""")]
    public async Task A_body_that_is_not_a_Segment_batch_is_400_malformed(string body)
    {
        await using var hermes = new HermesFactory();
        var client = hermes.Start();

        var response = await client.SendAsync(Segment(body), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.ReadJsonAsync();
        Assert.Equal(("urn:hermes:problem:malformed-body", "Body is not a Segment call or batch"), (problem.GetProperty("type").GetString(), problem.GetProperty("title").GetString()));
    }

    [Fact]
    public async Task V1_track_takes_one_call_and_refuses_an_invalid_one_with_400()
    {
        var sink = new RecordingSink();
        await using var hermes = new HermesFactory().WithSink(sink);
        var client = hermes.Start();

        var ok = await client.SendAsync(Segment("""{"event":"Ad Clicked","userId":"u","messageId":"t-1","properties":{"ad":7}}""", path: "/v1/track"), TestContext.Current.CancellationToken);
        var bad = await client.SendAsync(Segment("""{"event":"Ad Clicked","userId":"u"}""", path: "/v1/track"), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var problem = await bad.ReadJsonAsync();
        Assert.Equal(("urn:hermes:problem:invalid-event", "messageId"), (problem.GetProperty("type").GetString(), problem.GetProperty("field").GetString()));
        await Events.Eventually(() => Task.FromResult(sink.Events.Count), n => n == 1);
        Assert.Equal(("t-1", """{"ad":7}"""), (sink.Events.Single().Id, sink.Events.Single().Payload));
    }

    [Fact]
    public async Task A_body_over_MAX_BATCH_BYTES_is_413_which_the_SDKs_do_not_retry()
    {
        await using var hermes = new HermesFactory(new() { ["MAX_BATCH_BYTES"] = "1024" });
        var client = hermes.Start();

        var response = await client.SendAsync(Segment(Batch([.. Enumerable.Range(0, 20).Select(i => Track($"big-{i}"))])), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task The_OpenAPI_document_describes_the_Segment_endpoints()
    {
        await using var hermes = new HermesFactory();
        var client = hermes.Start();

        var paths = (await (await client.GetAsync("/openapi/v1.json", TestContext.Current.CancellationToken)).ReadJsonAsync()).GetProperty("paths");

        foreach (var path in new[] { "/v1/batch", "/v1/track" })
        {
            var post = paths.GetProperty(path).GetProperty("post");
            Assert.True(post.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _), path);
            foreach (var status in new[] { "200", "400", "401", "413", "429", "503" })
            {
                Assert.True(post.GetProperty("responses").TryGetProperty(status, out _), $"POST {path} does not document {status}");
            }
        }
    }

    [Fact]
    public async Task A_full_queue_is_503_with_Retry_After_and_queues_nothing_of_the_batch()
    {
        var sink = new RecordingSink(held: true);
        await using var hermes = new HermesFactory(new() { ["QUEUE_SIZE"] = "10", ["WORKER_COUNT"] = "1", ["BATCH_SIZE"] = "5", ["FLUSH_INTERVAL"] = "10ms" }).WithSink(sink);
        var client = hermes.Start();
        await client.SendAsync(Segment(Batch([.. Enumerable.Range(0, 5).Select(i => Track($"w-{i}"))])), TestContext.Current.CancellationToken);
        await Events.Eventually(() => Task.FromResult(hermes.Service<Ingest.Pipeline.EventQueue>().Length), n => n == 0);
        await client.SendAsync(Segment(Batch([.. Enumerable.Range(0, 10).Select(i => Track($"q-{i}"))])), TestContext.Current.CancellationToken);

        var response = await client.SendAsync(Segment(Batch(Track("over-1"), """{"type":"identify","userId":"u","messageId":"i"}""")), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter?.Delta);
        Assert.Equal("urn:hermes:problem:queue-full", (await response.ReadJsonAsync()).GetProperty("type").GetString());
        Assert.Equal(0, hermes.Service<IngestMetrics>().SegmentIgnored("identify")); // counted when it comes back
        sink.Open();
    }
}

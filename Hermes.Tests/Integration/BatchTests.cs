using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Hermes.Ingest.Pipeline;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Integration;

public sealed class BatchTests() : HermesTest(new()
    {
        ["MAX_BATCH_EVENTS"] = "100",
        ["MAX_BATCH_BYTES"] = "65536",
        ["MAX_INFLATED_BYTES"] = "200000",
        ["MAX_EVENT_BYTES"] = "1024",
    })
{
    [Fact]
    public async Task Batch_with_bad_events_accepts_the_others_and_names_each_rejected_index()
    {
        var body = Events.Array([
            Events.Json("b-0"),
            Events.Json("b-1", type: "nope"),
            Events.Json("b-2", type: "ad_clicked"),
            "42",
            Events.Json("b-4", timestamp: -5),
        ]);

        var response = await Client.PostAsync("/events/batch", body, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var json = await response.ReadJsonAsync();
        Assert.Equal(2, json.GetProperty("accepted").GetInt32());
        var rejected = json.GetProperty("rejected").EnumerateArray().Select(r => (r.GetProperty("index").GetInt32(), r.GetProperty("field").GetString())).ToList();
        Assert.Equal([(1, "type"), (3, "event"), (4, "timestamp")], rejected);
        var aggregates = await Events.Eventually(
            async () => await (await Client.GetAsync("/aggregates")).ReadJsonAsync(),
            j => j.TryGetProperty("ad_clicked:1699999980", out _));
        Assert.Equal(1, aggregates.GetProperty("song_played:1699999980").GetInt64());
        Assert.Equal(1, aggregates.GetProperty("ad_clicked:1699999980").GetInt64());
    }

    [Fact]
    public async Task Ndjson_batch_is_judged_line_by_line_and_blank_lines_are_skipped()
    {
        var body = Events.Ndjson([Events.Json("n-0"), "", "{broken", Events.Json("n-2", type: "trip_started") + "\r", "   "]);

        var response = await Client.PostAsync("/events/batch", body, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var json = await response.ReadJsonAsync();
        Assert.Equal(2, json.GetProperty("accepted").GetInt32());
        var rejected = Assert.Single(json.GetProperty("rejected").EnumerateArray());
        Assert.Equal(1, rejected.GetProperty("index").GetInt32());
        Assert.Equal("json", rejected.GetProperty("rule").GetString());
    }

    [Fact]
    public async Task Ndjson_line_over_the_event_limit_is_rejected_by_index()
    {
        var big = Events.Json("huge", payload: $$"""{"k":"{{new string('x', 2000)}}"}""");
        var body = Events.Ndjson([Events.Json("ok"), big]);

        var response = await Client.PostAsync("/events/batch", body, TestContext.Current.CancellationToken);

        var json = await response.ReadJsonAsync();
        Assert.Equal(1, json.GetProperty("accepted").GetInt32());
        var rejected = Assert.Single(json.GetProperty("rejected").EnumerateArray());
        Assert.Equal(1, rejected.GetProperty("index").GetInt32());
        Assert.Equal("max-size", rejected.GetProperty("rule").GetString());
    }

    [Fact]
    public async Task Gzip_batch_is_inflated_and_accepted()
    {
        var events = Enumerable.Range(0, 50).Select(i => Events.Json($"gz-{i}", type: "location_update")).ToList();
        var content = Gzip(string.Join('\n', events), "application/x-ndjson");

        var response = await Client.PostAsync("/events/batch", content, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(50, (await response.ReadJsonAsync()).GetProperty("accepted").GetInt32());
    }

    [Fact]
    public async Task Gzip_bomb_is_refused_with_413_while_inflating()
    {
        // 10 MB of spaces compresses to ~10 KB: well under the wire limit, far over the inflated limit.
        var content = Gzip("[" + new string(' ', 10_000_000) + "]", "application/json");
        Assert.True(content.Headers.ContentLength < 65536);

        var response = await Client.PostAsync("/events/batch", content, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("MAX_INFLATED_BYTES", (await response.ReadJsonAsync()).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Corrupt_gzip_is_refused_with_400()
    {
        var content = Events.Body("this is not gzip");
        content.Headers.ContentEncoding.Add("gzip");

        var response = await Client.PostAsync("/events/batch", content, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Unknown_content_encoding_is_refused_with_415()
    {
        var content = Events.Array([Events.Json("br")]);
        content.Headers.ContentEncoding.Add("br");

        var response = await Client.PostAsync("/events/batch", content, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task Batch_with_more_events_than_allowed_is_refused_with_413_and_nothing_queued()
    {
        var events = Enumerable.Range(0, 101).Select(i => Events.Json($"many-{i}"));

        var response = await Client.PostAsync("/events/batch", Events.Ndjson(events), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("MAX_BATCH_EVENTS", (await response.ReadJsonAsync()).GetProperty("detail").GetString());
        Assert.Equal(0, Hermes.Service<EventQueue>().DequeuedTotal + Hermes.Service<EventQueue>().Length);
    }

    [Fact]
    public async Task Batch_body_over_the_byte_limit_is_refused_with_413()
    {
        var body = Events.Body("[" + new string(' ', 70_000) + "]");

        var response = await Client.PostAsync("/events/batch", body, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task Chunked_batch_body_over_the_byte_limit_is_refused_with_413()
    {
        var body = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("[" + new string(' ', 70_000) + "]")));
        body.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, "/events/batch") { Content = body };
        request.Headers.TransferEncodingChunked = true;

        var response = await Client.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Theory]
    [InlineData("{\"id\":\"x\"}")]
    [InlineData("[{\"id\":\"a\",\"user_id\":\"u\",\"type\":\"song_played\",\"timestamp\":1700000000},")]
    [InlineData("[] []")]
    public async Task Malformed_json_array_is_refused_whole_with_400(string body)
    {
        var response = await Client.PostAsync("/events/batch", Events.Body(body), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("json", (await response.ReadJsonAsync()).GetProperty("rule").GetString());
    }

    [Fact]
    public async Task Batch_where_every_event_is_invalid_is_refused_with_400_listing_each()
    {
        var response = await Client.PostAsync("/events/batch", Events.Array([Events.Json("x", type: "bad"), "{}"]), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.ReadJsonAsync();
        Assert.Equal(2, problem.GetProperty("rejected").GetArrayLength());
    }

    [Fact]
    public async Task Empty_batch_is_refused_with_400()
    {
        var response = await Client.PostAsync("/events/batch", Events.Body("[]"), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("non-empty", (await response.ReadJsonAsync()).GetProperty("rule").GetString());
    }

    [Fact]
    public async Task Batch_with_an_unsupported_content_type_is_refused_with_415()
    {
        var response = await Client.PostAsync("/events/batch", Events.Body(Events.Json("t"), "text/csv"), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Contains("application/x-ndjson", (await response.ReadJsonAsync()).GetProperty("detail").GetString());
    }

    private static ByteArrayContent Gzip(string text, string contentType)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.SmallestSize))
        {
            gzip.Write(Encoding.UTF8.GetBytes(text));
        }

        var content = new ByteArrayContent(buffer.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        content.Headers.ContentEncoding.Add("gzip");
        return content;
    }
}

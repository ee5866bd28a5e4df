using System.Net;
using System.Net.Http.Json;
using Hermes.Ingest.Telemetry;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Integration;

public sealed class SingleEventTests() : HermesTest(new() { ["MAX_EVENT_BYTES"] = "2048", ["MAX_PAYLOAD_BYTES"] = "256" })
{
    [Fact]
    public async Task Valid_event_is_accepted_with_202_and_counted_in_its_minute()
    {
        var response = await Client.PostAsync("/events", Events.Body(Events.Json("evt-1")), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(1, (await response.ReadJsonAsync()).GetProperty("accepted").GetInt32());
        var aggregates = await Events.Eventually(
            async () => await (await Client.GetAsync("/aggregates")).ReadJsonAsync(),
            json => json.TryGetProperty("song_played:1699999980", out _));
        Assert.Equal(1, aggregates.GetProperty("song_played:1699999980").GetInt64());
    }

    public static TheoryData<string, string, string> InvalidEvents => new()
    {
        { """{"user_id":"u","type":"song_played","timestamp":1700000000}""", "id", "required" },
        { """{"id":"","user_id":"u","type":"song_played","timestamp":1700000000}""", "id", "non-empty" },
        { """{"id":"   ","user_id":"u","type":"song_played","timestamp":1700000000}""", "id", "non-empty" },
        { """{"id":42,"user_id":"u","type":"song_played","timestamp":1700000000}""", "id", "type" },
        { $$"""{"id":"{{new string('x', 129)}}","user_id":"u","type":"song_played","timestamp":1700000000}""", "id", "max-length" },
        { """{"id":"a\u0000b","user_id":"u","type":"song_played","timestamp":1700000000}""", "id", "control-characters" },
        { """{"id":"a","type":"song_played","timestamp":1700000000}""", "user_id", "required" },
        { """{"id":"a","user_id":null,"type":"song_played","timestamp":1700000000}""", "user_id", "type" },
        { $$"""{"id":"a","user_id":"{{new string('u', 129)}}","type":"song_played","timestamp":1700000000}""", "user_id", "max-length" },
        { """{"id":"a","user_id":"u","timestamp":1700000000}""", "type", "required" },
        { """{"id":"a","user_id":"u","type":"song_skipped","timestamp":1700000000}""", "type", "allowed-values" },
        { """{"id":"a","user_id":"u","type":"SONG_PLAYED","timestamp":1700000000}""", "type", "allowed-values" },
        { """{"id":"a","user_id":"u","type":7,"timestamp":1700000000}""", "type", "allowed-values" },
        { """{"id":"a","user_id":"u","type":"song_played"}""", "timestamp", "required" },
        { """{"id":"a","user_id":"u","type":"song_played","timestamp":"1700000000"}""", "timestamp", "integer" },
        { """{"id":"a","user_id":"u","type":"song_played","timestamp":1700000000.5}""", "timestamp", "integer" },
        { """{"id":"a","user_id":"u","type":"song_played","timestamp":-1}""", "timestamp", "range" },
        { """{"id":"a","user_id":"u","type":"song_played","timestamp":1700000000000}""", "timestamp", "range" },
        { """{"id":"a","user_id":"u","type":"song_played","timestamp":99999999999999999999}""", "timestamp", "integer" },
        { """{"id":"a","user_id":"u","type":"song_played","timestamp":1700000000,"payload":[1]}""", "payload", "type" },
        { """{"id":"a","user_id":"u","type":"song_played","timestamp":1700000000,"payload":"x"}""", "payload", "type" },
        { $$$"""{"id":"a","user_id":"u","type":"song_played","timestamp":1700000000,"payload":{"k":"{{{new string('p', 300)}}}"}}""", "payload", "max-size" },
        { """{"id":"a","id":"b","user_id":"u","type":"song_played","timestamp":1700000000}""", "id", "duplicate" },
        { """{"id":"a","user_id":"u","type":"song_played","timestamp":1700000000,"payload":{"k":"a\u0000b"}}""", "payload", "control-characters" },
        { """{"id":"a","user_id":"u","type":"song_played","timestamp":1700000000,"payload":{"k":{"deep":"\\\u0000"}}}""", "payload", "control-characters" },
        { """[{"id":"a","user_id":"u","type":"song_played","timestamp":1700000000}]""", "event", "type" },
    };

    [Theory]
    [MemberData(nameof(InvalidEvents))]
    public async Task Invalid_event_is_refused_with_a_problem_naming_the_field_and_rule(string body, string field, string rule)
    {
        var response = await Client.PostAsync("/events", Events.Body(body), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.ReadJsonAsync();
        Assert.Equal(field, problem.GetProperty("field").GetString());
        Assert.Equal(rule, problem.GetProperty("rule").GetString());
        Assert.Contains(field, problem.GetProperty("title").GetString());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
        Assert.Equal(400, problem.GetProperty("status").GetInt32());
    }

    [Theory]
    [InlineData("id")]
    [InlineData("user_id")]
    [InlineData("payload")]
    public async Task Invalid_utf8_is_refused_naming_the_field(string field)
    {
        // '#' marks where a lone UTF-8 lead byte (0xC3, then a quote) replaces it on the wire.
        var json = field switch
        {
            "id" => """{"id":"a#","user_id":"u","type":"song_played","timestamp":1700000000}""",
            "user_id" => """{"id":"a","user_id":"u#","type":"song_played","timestamp":1700000000}""",
            _ => """{"id":"a","user_id":"u","type":"song_played","timestamp":1700000000,"payload":{"k":"#"}}""",
        };
        var bytes = System.Text.Encoding.ASCII.GetBytes(json);
        bytes[Array.IndexOf(bytes, (byte)'#')] = 0xC3;
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");

        var response = await Client.PostAsync("/events", content, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.ReadJsonAsync();
        Assert.Equal(field, problem.GetProperty("field").GetString());
        Assert.Equal("utf8", problem.GetProperty("rule").GetString());
    }

    [Fact]
    public async Task An_escaped_backslash_before_u0000_is_text_not_nul_and_is_accepted()
    {
        var body = """{"id":"a","user_id":"u","type":"ad_clicked","timestamp":1700000000,"payload":{"path":"C:\\u0000"}}""";

        var response = await Client.PostAsync("/events", Events.Body(body), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [Fact]
    public async Task Null_payload_and_unknown_fields_are_accepted()
    {
        var body = """{"id":"a","user_id":"u","type":"ad_clicked","timestamp":1700000000,"payload":null,"source":"ios"}""";

        var response = await Client.PostAsync("/events", Events.Body(body), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"id\":\"a\",")]
    [InlineData("{\"id\":\"a\"} trailing")]
    [InlineData("not json")]
    public async Task Malformed_json_is_refused_with_400_and_where_it_broke(string body)
    {
        var response = await Client.PostAsync("/events", Events.Body(body), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.ReadJsonAsync();
        Assert.Equal("body", problem.GetProperty("field").GetString());
    }

    [Fact]
    public async Task Body_over_the_limit_is_refused_with_413()
    {
        var body = Events.Json("big", payload: $$"""{"k":"{{new string('x', 4000)}}"}""");

        var response = await Client.PostAsync("/events", Events.Body(body), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("MAX_EVENT_BYTES", (await response.ReadJsonAsync()).GetProperty("detail").GetString());
        Assert.Equal(1, Hermes.Service<IngestMetrics>().Rejected(RejectReason.TooLarge));
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("application/xml")]
    public async Task Non_json_content_type_is_refused_with_415(string contentType)
    {
        var response = await Client.PostAsync("/events", Events.Body(Events.Json("a"), contentType), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Contains("application/json", (await response.ReadJsonAsync()).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Json_with_charset_and_vendor_json_types_are_accepted()
    {
        // What HttpClient.PostAsJsonAsync sends: application/json; charset=utf-8.
        var withCharset = await Client.PostAsJsonAsync("/events",
            new { id = "c1", user_id = "user-1", type = "song_played", timestamp = Events.Timestamp }, TestContext.Current.CancellationToken);
        var vendor = await Client.PostAsync("/events", Events.Body(Events.Json("c2"), "application/vnd.hermes+json"), TestContext.Current.CancellationToken);

        Assert.Equal("application/json; charset=utf-8", withCharset.RequestMessage!.Content!.Headers.ContentType!.ToString());
        Assert.Equal(HttpStatusCode.Accepted, withCharset.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, vendor.StatusCode);
    }

    [Fact]
    public async Task Timestamp_within_the_configured_skew_is_accepted()
    {
        var inFiveMinutes = DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds();

        var response = await Client.PostAsync("/events", Events.Body(Events.Json("soon", timestamp: inFiveMinutes)), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }
}

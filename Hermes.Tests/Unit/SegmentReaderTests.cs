using System.Text;
using Hermes.Ingest.Configuration;
using Hermes.Ingest.Events;
using Hermes.Ingest.Events.Segment;
using Hermes.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Hermes.Tests.Unit;

/// <summary>The Segment mapping as a pure function: body and clock in, Hermes events, rejections and ignored calls out.</summary>
public sealed class SegmentReaderTests
{
    // 2023-11-14T22:13:20Z = 1_700_000_000.
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000).AddMilliseconds(250);

    private static SegmentReader Reader(params (string Key, string Value)[] settings)
    {
        var options = IngestOptionsLoader.Load(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build());
        var types = new EventTypeCatalog(Options.Create(options));
        return new SegmentReader(PureCore.Parser(options), new SegmentEventNames(Options.Create(options), types), Options.Create(options));
    }

    private static (BatchReader.Result Result, BatchOutcome Outcome, int[] Ignored) Read(string body, SegmentReader? reader = null)
    {
        var outcome = new BatchOutcome(10_000);
        var ignored = new int[SegmentReader.IgnoredCalls.Count];
        var result = (reader ?? Reader()).ReadBatch(Encoding.UTF8.GetBytes(body), Now, outcome, ignored);
        return (result, outcome, ignored);
    }

    private static string Batch(params string[] calls) => $$"""{"batch":[{{string.Join(',', calls)}}],"writeKey":"k"}""";

    private static string Track(string fields = "", string @event = "Song Played", string id = "m-1") =>
        $$"""{"type":"track","event":"{{@event}}","messageId":"{{id}}","userId":"u-1","timestamp":"2023-11-14T22:13:20.999Z"{{fields}}}""";

    [Theory]
    [InlineData("Song Played", "song_played")]
    [InlineData("song played", "song_played")]
    [InlineData("songPlayed", "song_played")]
    [InlineData("SongPlayed", "song_played")]
    [InlineData("song-played", "song_played")]
    [InlineData("  Song   Played! ", "song_played")]
    [InlineData("song_played", "song_played")]
    [InlineData("HTTPRequest Sent", "http_request_sent")]
    [InlineData("Ad Clicked v2", "ad_clicked_v2")]
    [InlineData("Order 66 Completed", "order_66_completed")]
    public void Event_names_default_to_their_snake_case(string name, string expected) =>
        Assert.Equal(expected, SegmentEventNames.SnakeCase(name));

    [Fact]
    public void A_track_maps_messageId_userId_event_timestamp_and_properties()
    {
        var (result, outcome, ignored) = Read(Batch(Track(""","properties":{"song":"x","n":[1,2]},"context":{"ip":"1.2.3.4"}""")));

        Assert.Equal(BatchStatus.Ok, result.Status);
        Assert.Empty(outcome.Rejected);
        Assert.All(ignored, count => Assert.Equal(0, count));
        var e = Assert.Single(outcome.Events.ToArray());
        Assert.Equal("m-1", e.Id);
        Assert.Equal("u-1", e.UserId);
        Assert.Equal((byte)1, e.Type); // song_played in the default EVENT_TYPES
        Assert.Equal(1_700_000_000, e.Timestamp); // .999 is cut to the second
        Assert.Equal("""{"song":"x","n":[1,2]}""", e.Payload);
        Assert.Equal(Now.ToUnixTimeMilliseconds(), e.ReceivedAtMs);
    }

    [Fact]
    public void AnonymousId_is_the_user_when_userId_is_missing_null_or_empty()
    {
        var (_, outcome, _) = Read(Batch(
            """{"type":"track","event":"Ad Clicked","messageId":"a","anonymousId":"anon-1"}""",
            """{"type":"track","event":"Ad Clicked","messageId":"b","userId":null,"anonymousId":"anon-2"}""",
            """{"type":"track","event":"Ad Clicked","messageId":"c","userId":"","anonymousId":"anon-3"}""",
            """{"type":"track","event":"Ad Clicked","messageId":"d","userId":"u","anonymousId":"anon-4"}"""));

        Assert.Equal(["anon-1", "anon-2", "anon-3", "u"], outcome.Events.ToArray().Select(e => e.UserId));
    }

    [Fact]
    public void Time_is_timestamp_else_originalTimestamp_else_sentAt_else_the_batch_sentAt_sent_after_the_calls()
    {
        const string call = """{"type":"track","event":"Song Played","userId":"u","messageId":""";
        var (_, outcome, _) = Read($$"""
            {"batch":[
              {{call}}"1","timestamp":"2023-11-14T22:00:01Z","originalTimestamp":"2023-11-14T22:00:02Z","sentAt":"2023-11-14T22:00:03Z"},
              {{call}}"2","originalTimestamp":"2023-11-14T22:00:02Z","sentAt":"2023-11-14T22:00:03Z"},
              {{call}}"3","sentAt":"2023-11-14T22:00:03Z"},
              {{call}}"4"},
              {{call}}"5","timestamp":"2023-11-14T23:00:05+01:00"},
              {{call}}"6","timestamp":"2023-11-14T22:00:06"}
            ],"sentAt":"2023-11-14T22:00:04.5Z"}
            """);

        const long start = 1_700_000_000 - (13 * 60) - 20 + 1; // 22:00:01
        Assert.Equal([start, start + 1, start + 2, start + 3, start + 4, start + 5], outcome.Events.ToArray().Select(e => e.Timestamp));
    }

    [Fact]
    public void Without_any_time_a_call_takes_the_time_of_receipt()
    {
        var (_, outcome, _) = Read(Batch("""{"type":"track","event":"Song Played","userId":"u","messageId":"m"}"""));

        Assert.Equal(Now.ToUnixTimeSeconds(), Assert.Single(outcome.Events.ToArray()).Timestamp);
    }

    [Fact]
    public void Identify_page_screen_group_and_alias_are_counted_and_not_stored()
    {
        var (result, outcome, ignored) = Read(Batch(
            """{"type":"identify","userId":"u","traits":{"a":1},"messageId":"i"}""",
            """{"type":"page","userId":"u","name":"Home","properties":[1],"messageId":"p1"}""",
            """{"type":"page","anonymousId":"a","messageId":"p2"}""",
            """{"type":"screen","userId":"u","messageId":"s"}""",
            """{"type":"group","userId":"u","groupId":"g","messageId":"g"}""",
            """{"properties":{"x":1},"type":"alias","previousId":"a","userId":"u","messageId":"al"}""",
            Track()));

        Assert.Equal(BatchStatus.Ok, result.Status);
        Assert.Equal([1, 2, 1, 1, 1], ignored);
        Assert.Empty(outcome.Rejected);
        Assert.Equal("m-1", Assert.Single(outcome.Events.ToArray()).Id);
    }

    [Theory]
    [InlineData("""{"type":"track","event":"Song Skipped","messageId":"m","userId":"u"}""", "event", "allowed-values", "'song_skipped'")]
    [InlineData("""{"type":"track","messageId":"m","userId":"u"}""", "event", "required", "Song Played")]
    [InlineData("""{"type":"track","event":5,"messageId":"m","userId":"u"}""", "event", "type", "string")]
    [InlineData("""{"type":"track","event":"Song Played","userId":"u"}""", "messageId", "required", "stores each (messageId, timestamp) once")]
    [InlineData("""{"type":"track","event":"Song Played","messageId":"m"}""", "userId", "required", "anonymousId")]
    [InlineData("""{"type":"track","event":"Song Played","messageId":"m","userId":7}""", "userId", "type", "string")]
    [InlineData("""{"type":"track","event":"Song Played","messageId":"m","userId":"u","timestamp":"yesterday"}""", "timestamp", "date-time", "ISO 8601")]
    [InlineData("""{"type":"track","event":"Song Played","messageId":"m","userId":"u","timestamp":1700000000}""", "timestamp", "date-time", "ISO 8601")]
    [InlineData("""{"type":"track","event":"Song Played","messageId":"m","userId":"u","timestamp":"2030-01-01T00:00:00Z"}""", "timestamp", "range", "clock")]
    [InlineData("""{"type":"track","event":"Song Played","messageId":"m","userId":"u","properties":[1]}""", "properties", "type", "'properties' must be a JSON object")]
    [InlineData("""{"event":"Song Played","messageId":"m","userId":"u"}""", "type", "required", "'track'")]
    [InlineData("""{"type":"purchase","event":"Song Played","messageId":"m","userId":"u"}""", "type", "allowed-values", "'identify'")]
    [InlineData("""[1]""", "message", "type", "JSON object")]
    public void An_invalid_track_is_rejected_by_index_naming_the_Segment_field(string call, string field, string rule, string says)
    {
        var (result, outcome, _) = Read(Batch(Track(id: "ok"), call));

        Assert.Equal(BatchStatus.Ok, result.Status);
        Assert.Equal("ok", Assert.Single(outcome.Events.ToArray()).Id);
        var rejection = Assert.Single(outcome.Rejected);
        Assert.Equal((1, field, rule), (rejection.Index, rejection.Error.Field, rejection.Error.Rule));
        Assert.Contains(says, rejection.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Properties_obey_MAX_PAYLOAD_BYTES_like_a_payload()
    {
        var (_, outcome, _) = Read(Batch(Track($$""","properties":{"s":"{{new string('x', 200)}}"}""")), Reader(("MAX_PAYLOAD_BYTES", "100")));

        Assert.Equal(("properties", "max-size"), (outcome.Rejected[0].Error.Field, outcome.Rejected[0].Error.Rule));
    }

    [Fact]
    public void SEGMENT_EVENT_MAP_maps_names_exactly_before_the_snake_case_default()
    {
        var reader = Reader(("SEGMENT_EVENT_MAP", "Ride Started=trip_started, Song Played=ad_clicked"));

        var (_, outcome, _) = Read(Batch(Track(@event: "Ride Started", id: "a"), Track(@event: "Song Played", id: "b"), Track(@event: "song played", id: "c")), reader);

        Assert.Equal([(byte)0, (byte)2, (byte)1], outcome.Events.ToArray().Select(e => e.Type));
    }

    [Theory]
    [InlineData("SEGMENT_EVENT_MAP", "Ride Started=taxi_hailed", "'taxi_hailed' is not one of EVENT_TYPES")]
    [InlineData("SEGMENT_EVENT_MAP", "Ride Started", "is not 'Event Name=type'")]
    [InlineData("SEGMENT_EVENT_MAP", "A=song_played,A=ad_clicked", "mapped twice")]
    public void A_bad_SEGMENT_EVENT_MAP_stops_startup_naming_the_setting(string key, string value, string says)
    {
        var error = Assert.Throws<InvalidSettingException>(() => Reader((key, value)));

        Assert.Contains("SEGMENT_EVENT_MAP=", error.Message, StringComparison.Ordinal);
        Assert.Contains(says, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("""{"writeKey":"k"}""")]
    [InlineData("""{"batch":{}}""")]
    [InlineData("""{"batch":[],"batch":[]}""")]
    [InlineData("""{"batch":[{"type":"track"}""")]
    [InlineData("""{"batch":[]} x""")]
    public void A_body_that_is_not_a_Segment_batch_is_malformed(string body) =>
        Assert.Equal(BatchStatus.Malformed, Read(body).Result.Status);

    [Fact]
    public void More_calls_than_MAX_BATCH_EVENTS_is_too_many()
    {
        var outcome = new BatchOutcome(2);
        var body = Encoding.UTF8.GetBytes(Batch(Track(id: "1"), Track(id: "2"), Track(id: "3")));

        var result = Reader(("MAX_BATCH_EVENTS", "2")).ReadBatch(body, Now, outcome, new int[5]);

        Assert.Equal(BatchStatus.TooManyEvents, result.Status);
    }

    [Fact]
    public void V1_track_takes_one_call_as_a_track_whatever_its_type()
    {
        var outcome = new BatchOutcome(10);

        var result = Reader().ReadTrack(Encoding.UTF8.GetBytes("""{"event":"Trip Started","userId":"u","messageId":"t","timestamp":"2023-11-14T22:13:20Z"}"""), Now, outcome);

        Assert.Equal(BatchStatus.Ok, result.Status);
        Assert.Equal(("t", (byte)0, 1_700_000_000L), (outcome.Events[0].Id, outcome.Events[0].Type, outcome.Events[0].Timestamp));
    }
}

using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using CsCheck;
using Hermes.Ingest.Configuration;
using Hermes.Ingest.Events;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Unit;

/// <summary>
/// The parser on its own, with generated input (CsCheck): any valid event, however a JSON writer spells it, comes
/// back as the same record; and no input bytes make anything escape but a defined <see cref="EventError"/> or, for
/// bytes that are not JSON at all, the documented <see cref="JsonException"/>. Seeds are random; a failure prints
/// the seed and the smallest input found, and <c>seed: "…"</c> on the Sample call replays it.
/// </summary>
public sealed class EventParserTests
{
    private const long Now = 1_700_000_000;
    private const long ReceivedAtMs = Now * 1000 + 123;

    private static readonly IngestOptions Options = new();
    private static readonly EventParser Parser = PureCore.Parser(Options);

    /// <summary>The rules <see cref="EventParser"/> and <see cref="BatchReader"/> document (ENGINEERING.md §6).</summary>
    private static readonly HashSet<string> Rules =
    [
        "required", "type", "duplicate", "non-empty", "max-length", "utf8", "control-characters", "allowed-values",
        "integer", "range", "retention", "max-size", "json",
    ];

    private static readonly HashSet<string> Fields = ["body", "event", "id", "user_id", "type", "timestamp", "payload"];

    /// <summary>
    /// Pieces of text: ASCII, what JSON must escape, what a default encoder escapes (&lt;, &amp;, ', U+2028) and
    /// non-ASCII of two to four UTF-8 bytes, including surrogate pairs. At most 4 UTF-16 chars each.
    /// </summary>
    private static readonly string[] Pieces =
        ["a", "Z", "0", "9", "-", "_", ".", ":", "/", " ", "\"", "\\", "<", "&", "'", "é", "ß", "漢", "\u2028", "\uFFFD", "😀", "👍🏽"];

    /// <summary>1 to 128 chars (MAX_ID_LENGTH's default): 32 pieces of at most 4 chars, or exactly the limit.</summary>
    private static readonly Gen<string> Identifier = Gen.Frequency<string>(
        (9, Gen.OneOf(Pieces).Array[1, 32].Select(p => string.Concat(p)).Where(s => !string.IsNullOrWhiteSpace(s))),
        (1, Gen.Const(new string('x', 128))));

    private static readonly Gen<PayloadField[]> PayloadFields =
        (from key in Identifier
         from kind in Gen.Int[0, 4]
         from text in Identifier
         from number in Gen.Long
         select new PayloadField(key, kind, text, number)).Array[0, 4]; // at most ~10 KB, under MAX_PAYLOAD_BYTES

    private static readonly Gen<Candidate> ValidEvent =
        from id in Identifier
        from user in Identifier
        from type in Gen.Int[0, IngestOptions.DefaultEventTypes.Length - 1]
        from timestamp in Gen.Long[0, Now + (long)Options.MaxFutureSkew.TotalSeconds]
        from payloadMode in Gen.Int[0, 2]
        from payload in PayloadFields
        from order in Gen.Shuffle(new[] { 0, 1, 2, 3, 4, 5 })
        from relaxed in Gen.Bool
        from indented in Gen.Bool
        select new Candidate(id, user, (byte)type, timestamp, (PayloadMode)payloadMode, payload, order, relaxed, indented);

    /// <summary>Bytes that break JSON, UTF-8, or the rules: pasted into valid events at random places.</summary>
    private static readonly byte[][] Hostile =
    [
        [0xFF], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0xF0, 0x9F, 0x98], [0xE2, 0x82], [0x00], [0x01], [0x7F],
        .. new[]
        {
            "\\u0000", "\\ud800", "\\udc00\\ud800", "\\\\u0000", "\"", "\\", "{", "}", "[", "]", ",", ":", "null", "true",
            "1e999", "-0", "1.5", "99999999999999999999", "-1", "\"timestamp\":", "\"id\":", "\"id\":\"x\",", "\"payload\":\"x\",",
            "\"type\":42,", "\n", " ", "{\"a\":" + new string('[', 40),
        }.Select(Encoding.UTF8.GetBytes),
    ];

    private static readonly Gen<byte[]> AnyBytes = Gen.Frequency<byte[]>(
        (1, Gen.Byte.Array[0, 80]),
        (4, from valid in ValidEvent
            from edits in (from kind in Gen.Int[0, 3]
                           from at in Gen.Double[0, 1]
                           from piece in Gen.Int[0, Hostile.Length - 1]
                           from length in Gen.Int[1, 8]
                           select new Edit(kind, at, piece, length)).Array[1, 4]
            select Mutate(valid.Render().Json, edits)));

    [Fact]
    public void A_valid_event_round_trips_whatever_the_writer_escapes_and_in_any_field_order()
    {
        ValidEvent.Sample(candidate =>
        {
            var (json, payload) = candidate.Render();

            var ok = Parser.TryParseDocument(json, Now, ReceivedAtMs, out var record, out var error);

            Assert.True(ok, $"{error} for {Encoding.UTF8.GetString(json)}");
            Assert.Equal(new EventRecord(candidate.Id, candidate.UserId, candidate.Type, candidate.Timestamp, payload, ReceivedAtMs), record);
        }, iter: 5_000);
    }

    [Fact]
    public void No_input_bytes_get_anything_but_a_defined_error_out_of_the_parser_or_the_batch_readers()
    {
        AnyBytes.Sample(bytes =>
        {
            try
            {
                if (!Parser.TryParseDocument(bytes, Now, ReceivedAtMs, out _, out var error))
                {
                    AssertDefined(error);
                }
            }
            catch (JsonException)
            {
                // Documented: the bytes are not well-formed JSON (intake answers 400, rule json).
            }

            // The batch readers catch even that: a batch gets an answer, never an exception.
            using var ndjson = new BatchOutcome(Options.MaxBatchEvents);
            Assert.Equal(BatchStatus.Ok, BatchReader.ReadNdjson(Parser, bytes, DateTimeOffset.FromUnixTimeSeconds(Now), Options, ndjson).Status);
            Assert.All(ndjson.Rejected, r => AssertDefined(r.Error));

            using var array = new BatchOutcome(Options.MaxBatchEvents);
            var result = BatchReader.ReadArray(Parser, bytes, DateTimeOffset.FromUnixTimeSeconds(Now), Options, array);
            Assert.True(result.Status != BatchStatus.Malformed || result.Message is { Length: > 0 }, "Malformed without a message");
            Assert.All(array.Rejected, r => AssertDefined(r.Error));
        }, iter: 20_000);
    }

    [Theory]
    [InlineData("{\"x\":\"a\\u0000b\"}", false)]
    [InlineData("{\"x\":\"a\\\\u0000b\"}", true)] // an escaped backslash, then the text u0000: no NUL
    [InlineData("{\"x\":\"a\\\\\\u0000b\"}", false)] // an escaped backslash, then an escaped NUL
    public void A_payload_is_refused_only_for_an_escaped_NUL_that_jsonb_cannot_store(string payload, bool accepted)
    {
        var json = Encoding.UTF8.GetBytes($$"""{"id":"e","user_id":"u","type":"song_played","timestamp":{{Now}},"payload":{{payload}}}""");

        var ok = Parser.TryParseDocument(json, Now, ReceivedAtMs, out var record, out var error);

        Assert.Equal(accepted, ok);
        Assert.Equal(accepted ? payload : null, record.Payload);
        Assert.Equal(accepted ? null : "control-characters", error.Rule);
    }

    [Theory]
    [InlineData("""{"id":"e","id":"f","user_id":"u","type":"song_played","timestamp":1}""", "id", "duplicate")]
    [InlineData("""{"user_id":"u","type":"song_played","timestamp":1}""", "id", "required")]
    [InlineData("""{"id":" ","user_id":"u","type":"song_played","timestamp":1}""", "id", "non-empty")]
    [InlineData("""{"id":"e\u0007","user_id":"u","type":"song_played","timestamp":1}""", "id", "control-characters")]
    [InlineData("""{"id":"e","user_id":7,"type":"song_played","timestamp":1}""", "user_id", "type")]
    [InlineData("""{"id":"e","user_id":"u","type":"song_skipped","timestamp":1}""", "type", "allowed-values")]
    [InlineData("""{"id":"e","user_id":"u","type":"song_played","timestamp":1.5}""", "timestamp", "integer")]
    [InlineData("""{"id":"e","user_id":"u","type":"song_played","timestamp":1700000000000}""", "timestamp", "range")]
    [InlineData("""{"id":"e","user_id":"u","type":"song_played","timestamp":-1}""", "timestamp", "range")]
    [InlineData("""{"id":"e","user_id":"u","type":"song_played","timestamp":1,"payload":[1]}""", "payload", "type")]
    [InlineData("""[{"id":"e"}]""", "event", "type")]
    public void Each_broken_rule_is_named_with_its_field(string json, string field, string rule)
    {
        var ok = Parser.TryParseDocument(Encoding.UTF8.GetBytes(json), Now, ReceivedAtMs, out _, out var error);

        Assert.False(ok);
        Assert.Equal((field, rule), (error.Field, error.Rule));
        Assert.Contains(field, error.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"id\":\"e\"")]
    [InlineData("{\"id\":\"e\"} {}")]
    public void Bytes_that_are_not_one_JSON_document_throw_the_documented_JsonException(string json) =>
        Assert.ThrowsAny<JsonException>(() => Parser.TryParseDocument(Encoding.UTF8.GetBytes(json), Now, ReceivedAtMs, out _, out _));

    [Theory]
    [InlineData("""{"\ud800":1,"id":"e","user_id":"u","type":"song_played","timestamp":1}""", true, null)] // a name no field has: ignored
    [InlineData("""{"\u0069\u0064":"e","user_id":"u","type":"song_played","timestamp":1}""", true, null)] // "id", escaped
    [InlineData("""{"id":"e","user_id":"u","type":"\ud800song_played","timestamp":1}""", false, "allowed-values")]
    [InlineData("""{"id":"e","user_id":"u","type":"song\u005fplayed","timestamp":1}""", true, null)] // "song_played", escaped
    [InlineData("""{"id":"\ud83d","user_id":"u","type":"song_played","timestamp":1}""", false, "utf8")]
    public void Escaped_names_and_values_are_compared_unescaped_and_a_lone_surrogate_is_an_error_not_an_exception(string json, bool accepted, string? rule)
    {
        var ok = Parser.TryParseDocument(Encoding.UTF8.GetBytes(json), Now, ReceivedAtMs, out _, out var error);

        Assert.Equal((accepted, rule), (ok, error.Rule));
    }

    [Fact]
    public void Unknown_fields_are_ignored_and_the_first_error_wins()
    {
        var json = """{"v":2,"id":"e","user_id":"u","extra":{"deep":[1,{"x":null}]},"type":"nope","timestamp":"soon"}"""u8;

        var ok = Parser.TryParseDocument(json, Now, ReceivedAtMs, out _, out var error);

        Assert.False(ok);
        Assert.Equal(("type", "allowed-values"), (error.Field, error.Rule));
    }

    [Fact]
    public void An_event_older_than_the_retention_is_refused_naming_the_setting()
    {
        var options = new IngestOptions { EventRetention = TimeSpan.FromDays(1) };
        var parser = PureCore.Parser(options);
        var json = Encoding.UTF8.GetBytes(Infrastructure.Events.Json("old", timestamp: Now - 86_401));

        var ok = parser.TryParseDocument(json, Now, ReceivedAtMs, out _, out var error);

        Assert.False(ok);
        Assert.Equal(("timestamp", "retention"), (error.Field, error.Rule));
        Assert.Contains("older than EVENT_RETENTION (1d)", error.Message);
    }

    private static void AssertDefined(EventError error)
    {
        Assert.Contains(error.Field, Fields);
        Assert.Contains(error.Rule, Rules);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    private static byte[] Mutate(byte[] json, Edit[] edits)
    {
        var bytes = new List<byte>(json);
        foreach (var edit in edits)
        {
            var at = (int)(edit.At * bytes.Count);
            var piece = Hostile[edit.Piece];
            switch (edit.Kind)
            {
                case 0:
                    bytes.InsertRange(at, piece);
                    break;
                case 1:
                    bytes.RemoveRange(at, Math.Min(piece.Length, bytes.Count - at));
                    bytes.InsertRange(at, piece);
                    break;
                case 2:
                    bytes.RemoveRange(at, Math.Min(edit.Length, bytes.Count - at));
                    break;
                default:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
            }
        }

        return [.. bytes];
    }

    private readonly record struct Edit(int Kind, double At, int Piece, int Length);

    private readonly record struct PayloadField(string Key, int Kind, string Text, long Number);

    private enum PayloadMode
    {
        Omitted,
        Null,
        Object,
    }

    private sealed record Candidate(
        string Id, string UserId, byte Type, long Timestamp, PayloadMode PayloadMode, PayloadField[] Payload, int[] Order, bool Relaxed, bool Indented)
    {
        /// <summary>The event as a producer's JSON writer would send it, and the payload's text as it appears there.</summary>
        public (byte[] Json, string? Payload) Render()
        {
            var options = new JsonWriterOptions
            {
                Encoder = Relaxed ? JavaScriptEncoder.UnsafeRelaxedJsonEscaping : JavaScriptEncoder.Default,
                Indented = Indented,
            };
            var payload = PayloadMode == PayloadMode.Object ? RenderPayload(options) : null;
            var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer, options))
            {
                json.WriteStartObject();
                foreach (var field in Order)
                {
                    switch (field)
                    {
                        case 0:
                            json.WriteString("id", Id);
                            break;
                        case 1:
                            json.WriteString("user_id", UserId);
                            break;
                        case 2:
                            json.WriteString("type", IngestOptions.DefaultEventTypes[Type]);
                            break;
                        case 3:
                            json.WriteNumber("timestamp", Timestamp);
                            break;
                        case 4 when PayloadMode == PayloadMode.Null:
                            json.WriteNull("payload");
                            break;
                        case 4 when payload is not null:
                            json.WritePropertyName("payload");
                            json.WriteRawValue(payload);
                            break;
                        case 5:
                            // A field this version does not know: ignored.
                            json.WriteStartObject("sdk");
                            json.WriteString("name", UserId);
                            json.WriteEndObject();
                            break;
                    }
                }

                json.WriteEndObject();
            }

            return (buffer.ToArray(), payload);
        }

        private string RenderPayload(JsonWriterOptions options)
        {
            var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer, options))
            {
                json.WriteStartObject();
                foreach (var (key, kind, text, number) in Payload)
                {
                    json.WritePropertyName(key);
                    switch (kind)
                    {
                        case 0:
                            json.WriteStringValue(text);
                            break;
                        case 1:
                            json.WriteNumberValue(number);
                            break;
                        case 2:
                            json.WriteBooleanValue(number % 2 == 0);
                            break;
                        case 3:
                            json.WriteNullValue();
                            break;
                        default:
                            json.WriteStartArray();
                            json.WriteStringValue(text);
                            json.WriteStartObject();
                            json.WriteNumber(key, number);
                            json.WriteEndObject();
                            json.WriteEndArray();
                            break;
                    }
                }

                json.WriteEndObject();
            }

            return Encoding.UTF8.GetString(buffer.ToArray());
        }
    }
}

using System.Text.Json;
using Hermes.Ingest.Configuration;
using Hermes.Ingest.Telemetry;
using Microsoft.Extensions.Options;

namespace Hermes.Ingest.Events.Segment;

/// <summary>
/// Reads the Segment tracking API's bodies (what <c>@segment/analytics-node</c>, <c>@rudderstack/rudder-sdk-node</c> and
/// their siblings send) into the same <see cref="EventRecord"/>s and <see cref="EventError"/>s as Hermes's own format,
/// with <see cref="EventParser"/>'s rules for ids, payloads and time. A <c>track</c> becomes an event:
/// <list type="bullet">
/// <item><c>messageId</c> → id (required: a resend is then stored once),</item>
/// <item><c>userId</c>, else <c>anonymousId</c> → user_id,</item>
/// <item><c>event</c> → type through <see cref="SegmentEventNames"/>,</item>
/// <item><c>timestamp</c>, else <c>originalTimestamp</c>, else the message's or the batch's <c>sentAt</c>, else the
/// time of receipt → timestamp (ISO 8601, cut to the second),</item>
/// <item><c>properties</c> → payload.</item>
/// </list>
/// <c>identify</c>, <c>page</c>, <c>screen</c>, <c>group</c> and <c>alias</c> are read, counted in
/// <paramref name="ignored"/> by call and otherwise ignored. Everything else in a message (<c>context</c>,
/// <c>traits</c>, <c>integrations</c>…) is skipped.
/// </summary>
public sealed class SegmentReader(EventParser parser, SegmentEventNames names, IOptions<IngestOptions> options)
{
    private readonly int _maxBatchEvents = options.Value.MaxBatchEvents;

    /// <summary>The calls Hermes accepts and ignores, in the order of the counts <see cref="ReadBatch"/> fills.</summary>
    public static IReadOnlyList<string> IgnoredCalls => IngestMetrics.IgnoredSegmentCalls;

    private const int Track = -1, Unknown = -2;

    /// <summary><c>POST /v1/batch</c>: <c>{"batch": [message, …], "sentAt": …}</c>.</summary>
    public BatchReader.Result ReadBatch(ReadOnlySpan<byte> body, DateTimeOffset now, BatchOutcome outcome, Span<int> ignored)
    {
        var reader = new Utf8JsonReader(body, parser.ReaderOptions);
        var clock = new Clock(now, body, parser.ReaderOptions);
        var sawBatch = false;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return Malformed();
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isBatch = reader.ValueTextEquals("batch"u8);
                reader.Read();
                if (!isBatch)
                {
                    reader.Skip();
                    continue;
                }

                if (sawBatch || reader.TokenType != JsonTokenType.StartArray)
                {
                    return Malformed();
                }

                sawBatch = true;
                var index = 0;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (index == _maxBatchEvents)
                    {
                        return new(BatchStatus.TooManyEvents);
                    }

                    Add(ref reader, body, ref clock, impliedTrack: false, index++, outcome, ignored);
                }
            }

            // Anything after the closing brace makes Read() throw.
            while (reader.Read())
            {
            }
        }
        catch (JsonException ex)
        {
            return new(BatchStatus.Malformed, $"The parser stopped at line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1}: {BatchReader.Describe(ex)} Nothing was queued.");
        }

        return sawBatch ? new(BatchStatus.Ok) : Malformed();
    }

    /// <summary><c>POST /v1/track</c>: one message, a <c>track</c> whatever its <c>type</c> says.</summary>
    public BatchReader.Result ReadTrack(ReadOnlySpan<byte> body, DateTimeOffset now, BatchOutcome outcome)
    {
        var reader = new Utf8JsonReader(body, parser.ReaderOptions);
        var clock = new Clock(now, default, parser.ReaderOptions);
        try
        {
            if (!reader.Read())
            {
                return new(BatchStatus.Malformed, "The body is empty; send one track call as a JSON object.");
            }

            Add(ref reader, body, ref clock, impliedTrack: true, 0, outcome, default);
            while (reader.Read())
            {
            }
        }
        catch (JsonException ex)
        {
            return new(BatchStatus.Malformed, $"The parser stopped at line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1}: {BatchReader.Describe(ex)}");
        }

        return new(BatchStatus.Ok);
    }

    private static BatchReader.Result Malformed() =>
        new(BatchStatus.Malformed, "A Segment batch is a JSON object whose 'batch' member is an array of calls: {\"batch\":[{\"type\":\"track\",\"event\":…},…]}.");

    private void Add(ref Utf8JsonReader reader, ReadOnlySpan<byte> body, ref Clock clock, bool impliedTrack, int index, BatchOutcome outcome, Span<int> ignored)
    {
        var call = TryReadMessage(ref reader, body, ref clock, impliedTrack, out var record, out var error);
        if (call >= 0)
        {
            ignored[call]++;
        }
        else if (call == Track)
        {
            outcome.Add(record);
        }
        else
        {
            outcome.Reject(index, error);
        }
    }

    /// <summary>
    /// Reads one message and leaves the reader on its last token: <see cref="Track"/> with the record, the index of an
    /// ignored call, or <see cref="Unknown"/> with the error (the first one found, as for Hermes's own events).
    /// </summary>
    private int TryReadMessage(ref Utf8JsonReader reader, ReadOnlySpan<byte> body, ref Clock clock, bool impliedTrack, out EventRecord record, out EventError error)
    {
        record = default;
        error = default;
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.TrySkip();
            error = new("message", "type", "A Segment call must be a JSON object like {\"type\":\"track\",\"event\":…,\"userId\":…,\"messageId\":…}.");
            return Unknown;
        }

        var call = impliedTrack ? Track : Unknown;
        var sawType = impliedTrack;
        string? messageId = null, userId = null, anonymousId = null, eventName = null, payload = null;
        long? timestamp = null, originalTimestamp = null, sentAt = null;
        var failed = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = Field(ref reader);
            reader.Read();
            if (field == MessageField.Type && !impliedTrack)
            {
                // Read even after an error: an ignored call's errors do not matter.
                sawType = true;
                call = ReadCall(ref reader);
                continue;
            }

            if (failed || field is MessageField.None or MessageField.Type)
            {
                reader.TrySkip();
                continue;
            }

            failed = field switch
            {
                MessageField.MessageId => !parser.TryReadIdentifier(ref reader, "messageId", out messageId, out error),
                MessageField.UserId => !TryReadOptionalIdentifier(ref reader, "userId", out userId, out error),
                MessageField.AnonymousId => !TryReadOptionalIdentifier(ref reader, "anonymousId", out anonymousId, out error),
                MessageField.Event => !TryReadString(ref reader, "event", out eventName, out error),
                MessageField.Timestamp => !TryReadTime(ref reader, "timestamp", out timestamp, out error),
                MessageField.OriginalTimestamp => !TryReadTime(ref reader, "originalTimestamp", out originalTimestamp, out error),
                MessageField.SentAt => !TryReadTime(ref reader, "sentAt", out sentAt, out error),
                _ => !parser.TryReadPayload(ref reader, body, "properties", out payload, out error),
            };
        }

        if (call >= 0)
        {
            error = default;
            return call;
        }

        if (failed)
        {
            return Unknown;
        }

        if (!sawType)
        {
            error = new("type", "required", "'type' is required: 'track' (stored), or 'identify', 'page', 'screen', 'group' or 'alias' (accepted and ignored).");
            return Unknown;
        }

        if (call != Track)
        {
            error = new("type", "allowed-values", "'type' must be 'track' (stored), or 'identify', 'page', 'screen', 'group' or 'alias' (accepted and ignored).");
            return Unknown;
        }

        if (eventName is null)
        {
            error = new("event", "required", "'event' is required: the name of the tracked action, for example \"Song Played\".");
            return Unknown;
        }

        if (!names.TryMap(eventName, out var type))
        {
            error = new("event", "allowed-values",
                $"'event' \"{Truncate(eventName)}\" is not a Hermes event type: as snake_case it is '{Truncate(SegmentEventNames.SnakeCase(eventName))}', and the types are {parser.Types.AllowedList}. Send one of those, add it to EVENT_TYPES, or map it in SEGMENT_EVENT_MAP (\"{Truncate(eventName)}=<type>\").");
            return Unknown;
        }

        if (messageId is null)
        {
            error = new("messageId", "required", "'messageId' is required (the Segment and RudderStack SDKs always send one): Hermes stores each (messageId, timestamp) once, so a resent call is not counted twice.");
            return Unknown;
        }

        if ((userId ?? anonymousId) is not { } user)
        {
            error = new("userId", "required", "'userId' or 'anonymousId' is required: a non-empty string.");
            return Unknown;
        }

        var seconds = timestamp ?? originalTimestamp ?? sentAt ?? clock.BatchSentAt() ?? clock.NowSeconds;
        if (!parser.CheckTimestamp(seconds, clock.NowSeconds, unixSeconds: false, out error))
        {
            return Unknown;
        }

        record = new EventRecord(messageId, user, type, seconds, payload, clock.ReceivedAtMs);
        return Track;
    }

    private enum MessageField
    {
        None,
        Type,
        Event,
        MessageId,
        UserId,
        AnonymousId,
        Timestamp,
        OriginalTimestamp,
        SentAt,
        Properties,
    }

    private static MessageField Field(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("type"u8) ? MessageField.Type
        : reader.ValueTextEquals("event"u8) ? MessageField.Event
        : reader.ValueTextEquals("messageId"u8) ? MessageField.MessageId
        : reader.ValueTextEquals("userId"u8) ? MessageField.UserId
        : reader.ValueTextEquals("anonymousId"u8) ? MessageField.AnonymousId
        : reader.ValueTextEquals("timestamp"u8) ? MessageField.Timestamp
        : reader.ValueTextEquals("originalTimestamp"u8) ? MessageField.OriginalTimestamp
        : reader.ValueTextEquals("sentAt"u8) ? MessageField.SentAt
        : reader.ValueTextEquals("properties"u8) ? MessageField.Properties
        : MessageField.None;

    /// <summary><see cref="Track"/>, the index in <see cref="IgnoredCalls"/>, or <see cref="Unknown"/>.</summary>
    private static int ReadCall(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            reader.TrySkip();
            return Unknown;
        }

        if (reader.ValueTextEquals("track"u8))
        {
            return Track;
        }

        for (var i = 0; i < IgnoredCalls.Count; i++)
        {
            if (reader.ValueTextEquals(IgnoredCalls[i]))
            {
                return i;
            }
        }

        return Unknown;
    }

    /// <summary>userId and anonymousId: null or "" count as absent (the other one is used), anything else is an id.</summary>
    private bool TryReadOptionalIdentifier(ref Utf8JsonReader reader, string field, out string? value, out EventError error)
    {
        if (reader.TokenType == JsonTokenType.Null || (reader.TokenType == JsonTokenType.String && reader.ValueSpan.IsEmpty))
        {
            value = null;
            error = default;
            return true;
        }

        return parser.TryReadIdentifier(ref reader, field, out value, out error);
    }

    private static bool TryReadString(ref Utf8JsonReader reader, string field, out string? value, out EventError error)
    {
        error = default;
        value = null;
        if (reader.TokenType == JsonTokenType.String)
        {
            try
            {
                value = reader.GetString();
                return true;
            }
            catch (InvalidOperationException)
            {
                error = new(field, "utf8", $"'{field}' is not valid UTF-8.");
                return false;
            }
        }

        reader.TrySkip();
        error = new(field, "type", $"'{field}' must be a string.");
        return false;
    }

    /// <summary>An ISO 8601 date-time, as Unix seconds (cut to the second); one without an offset is UTC. Null stays null.</summary>
    internal static bool TryReadTime(ref Utf8JsonReader reader, string field, out long? seconds, out EventError error)
    {
        seconds = null;
        error = default;
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType == JsonTokenType.String && reader.TryGetDateTimeOffset(out var time))
        {
            if (!reader.ValueIsEscaped && !HasOffset(reader.ValueSpan))
            {
                // The reader applies the server's local offset to a time without one; Hermes runs on UTC whatever the host.
                time = new DateTimeOffset(time.DateTime, TimeSpan.Zero);
            }

            seconds = time.ToUnixTimeSeconds();
            return true;
        }

        reader.TrySkip();
        error = new(field, "date-time", $"'{field}' must be an ISO 8601 date-time string, for example \"2026-12-02T06:00:00.000Z\".");
        return false;
    }

    private static bool HasOffset(ReadOnlySpan<byte> text)
    {
        var t = text.IndexOfAny((byte)'T', (byte)'t');
        return t >= 0 && (text[^1] is (byte)'Z' or (byte)'z' || text[t..].IndexOfAny((byte)'+', (byte)'-') >= 0);
    }

    private static string Truncate(string text) => text.Length <= 80 ? text : text[..80] + "…";

    /// <summary>
    /// The request's clock: now, and the batch's own <c>sentAt</c>, looked up (once) only when a message carries no
    /// time of its own; the SDKs always send one, so the common path never reads the body twice.
    /// </summary>
    private ref struct Clock
    {
        private readonly ReadOnlySpan<byte> _body;
        private readonly JsonReaderOptions _readerOptions;
        private bool _looked;
        private long? _sentAt;

        public Clock(DateTimeOffset now, ReadOnlySpan<byte> body, JsonReaderOptions readerOptions)
        {
            _body = body;
            _readerOptions = readerOptions;
            NowSeconds = now.ToUnixTimeSeconds();
            ReceivedAtMs = now.ToUnixTimeMilliseconds();
        }

        public long NowSeconds { get; }

        public long ReceivedAtMs { get; }

        public long? BatchSentAt()
        {
            if (!_looked && !_body.IsEmpty)
            {
                _looked = true;
                _sentAt = FindSentAt(_body, _readerOptions);
            }

            return _sentAt;
        }

        private static long? FindSentAt(ReadOnlySpan<byte> body, JsonReaderOptions readerOptions)
        {
            var reader = new Utf8JsonReader(body, readerOptions);
            reader.Read();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isSentAt = reader.ValueTextEquals("sentAt"u8);
                reader.Read();
                if (isSentAt)
                {
                    return TryReadTime(ref reader, "sentAt", out var seconds, out _) ? seconds : null;
                }

                reader.Skip();
            }

            return null;
        }
    }
}

using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Hermes.Ingest.Configuration;
using Microsoft.Extensions.Options;

namespace Hermes.Ingest.Events;

/// <summary>Why one event was refused: the field, the rule it broke, and a sentence a person can act on.</summary>
public readonly record struct EventError(string Field, string Rule, string Message);

/// <summary>
/// Reads and validates events straight from UTF-8 with <see cref="Utf8JsonReader"/>: no DOM, no reflection,
/// and no allocation beyond the strings an <see cref="EventRecord"/> keeps. Always consumes the whole object,
/// even when it is invalid, so a batch can carry on with the next one.
/// </summary>
public sealed class EventParser(IOptions<IngestOptions> options, EventTypeCatalog types)
{
    // Read for every event: the bound instance in a field, not IOptions<T>.Value each time.
    private readonly IngestOptions options = options.Value;

    private const long UnixSecondsMax = 253_402_300_799; // 9999-12-31T23:59:59Z

    private const byte SeenId = 1, SeenUserId = 2, SeenType = 4, SeenTimestamp = 8, SeenPayload = 16;

    public JsonReaderOptions ReaderOptions { get; } = new() { MaxDepth = options.Value.MaxJsonDepth };

    public EventTypeCatalog Types => types;

    /// <summary>Parses one JSON document that must be exactly one event object.</summary>
    /// <exception cref="JsonException">The bytes are not well-formed JSON.</exception>
    public bool TryParseDocument(ReadOnlySpan<byte> json, long nowSeconds, long receivedAtMs, out EventRecord record, out EventError error)
    {
        var reader = new Utf8JsonReader(json, ReaderOptions);
        if (!reader.Read())
        {
            record = default;
            error = new("body", "required", "The body is empty; send one event as a JSON object.");
            return false;
        }

        var ok = TryParseObject(ref reader, json, nowSeconds, receivedAtMs, out record, out error);

        // Anything after the object is malformed; Read() throws JsonException for it.
        while (reader.Read())
        {
        }

        return ok;
    }

    /// <summary>
    /// Parses the value the reader is on (it has just read the token) and leaves the reader on its last token.
    /// <paramref name="source"/> is the buffer the reader was built on; the payload's raw JSON is sliced from it.
    /// </summary>
    public bool TryParseObject(ref Utf8JsonReader reader, ReadOnlySpan<byte> source, long nowSeconds, long receivedAtMs, out EventRecord record, out EventError error)
    {
        record = default;
        error = default;
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.TrySkip();
            error = new("event", "type", "An event must be a JSON object like {\"id\":…,\"user_id\":…,\"type\":…,\"timestamp\":…}.");
            return false;
        }

        string? id = null, userId = null, payload = null;
        var type = (byte)0;
        long timestamp = 0;
        var seen = 0;
        var failed = false;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = FieldOf(ref reader);
            reader.Read();
            if (failed || field == 0)
            {
                // Unknown properties are ignored for forward compatibility; after the first error only the shape matters.
                reader.TrySkip();
                continue;
            }

            if ((seen & field) != 0)
            {
                failed = Fail(ref reader, out error, new(NameOf(field), "duplicate", $"'{NameOf(field)}' appears more than once; send each field once."));
                continue;
            }

            seen |= field;
            failed = field switch
            {
                SeenId => !TryReadIdentifier(ref reader, "id", out id, out error),
                SeenUserId => !TryReadIdentifier(ref reader, "user_id", out userId, out error),
                SeenType => !TryReadType(ref reader, out type, out error),
                SeenTimestamp => !TryReadTimestamp(ref reader, nowSeconds, out timestamp, out error),
                _ => !TryReadPayload(ref reader, source, "payload", out payload, out error),
            };
        }

        if (failed)
        {
            return false;
        }

        if ((seen & SeenId) == 0)
        {
            error = Missing("id", "a unique string, for example \"evt-123\"");
        }
        else if ((seen & SeenUserId) == 0)
        {
            error = Missing("user_id", "a string");
        }
        else if ((seen & SeenType) == 0)
        {
            error = Missing("type", $"one of {types.AllowedList}");
        }
        else if ((seen & SeenTimestamp) == 0)
        {
            error = Missing("timestamp", "integer Unix seconds");
        }
        else
        {
            record = new EventRecord(id!, userId!, type, timestamp, payload, receivedAtMs);
            return true;
        }

        return false;
    }

    /// <summary>Which of the five fields the property name on the reader is, or 0 for a name this version ignores.</summary>
    private static int FieldOf(ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped && !CanUnescape(ref reader))
        {
            // ValueTextEquals throws for a name it cannot unescape (a lone surrogate, "\ud800"); no field is named so.
            return 0;
        }

        return reader.ValueTextEquals("id"u8) ? SeenId
            : reader.ValueTextEquals("user_id"u8) ? SeenUserId
            : reader.ValueTextEquals("type"u8) ? SeenType
            : reader.ValueTextEquals("timestamp"u8) ? SeenTimestamp
            : reader.ValueTextEquals("payload"u8) ? SeenPayload
            : 0;
    }

    /// <summary>Whether an escaped string decodes to UTF-16 (rare on the hot path: only escaped names and types get here).</summary>
    private static bool CanUnescape(ref Utf8JsonReader reader)
    {
        try
        {
            reader.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>A <c>\u0000</c> escape that is not itself an escaped backslash followed by "u0000".</summary>
    private static bool ContainsEscapedNul(ReadOnlySpan<byte> json)
    {
        var offset = 0;
        while (true)
        {
            var found = json[offset..].IndexOf("\\u0000"u8);
            if (found < 0)
            {
                return false;
            }

            var at = offset + found;
            var backslashes = 0;
            while (at - backslashes - 1 >= 0 && json[at - backslashes - 1] == (byte)'\\')
            {
                backslashes++;
            }

            if (backslashes % 2 == 0)
            {
                return true;
            }

            offset = at + 1;
        }
    }

    private static EventError Missing(string field, string expected) =>
        new(field, "required", $"'{field}' is required: {expected}.");

    private static string NameOf(int field) => field switch
    {
        SeenId => "id",
        SeenUserId => "user_id",
        SeenType => "type",
        SeenTimestamp => "timestamp",
        _ => "payload",
    };

    private static bool Fail(ref Utf8JsonReader reader, out EventError error, EventError value)
    {
        reader.TrySkip();
        error = value;
        return true;
    }

    /// <summary>
    /// An id-like string (<c>id</c>, <c>user_id</c>, or a foreign format's <c>messageId</c>, <c>userId</c>…) under the
    /// same rules; <paramref name="field"/> is the name the error reports.
    /// </summary>
    internal bool TryReadIdentifier(ref Utf8JsonReader reader, string field, out string? value, out EventError error)
    {
        value = null;
        error = default;
        if (reader.TokenType != JsonTokenType.String)
        {
            Fail(ref reader, out error, new(field, "type", $"'{field}' must be a string."));
            return false;
        }

        // A UTF-8 byte never makes more than one UTF-16 char, so a long byte run can be refused before decoding.
        var maxBytes = options.MaxIdLength * 6;
        if ((reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length) > maxBytes)
        {
            error = TooLong(field);
            return false;
        }

        string text;
        try
        {
            text = reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            error = new(field, "utf8", $"'{field}' is not valid UTF-8.");
            return false;
        }

        if (text.Length == 0 || string.IsNullOrWhiteSpace(text))
        {
            error = new(field, "non-empty", $"'{field}' must not be empty.");
            return false;
        }

        if (text.Length > options.MaxIdLength)
        {
            error = TooLong(field);
            return false;
        }

        foreach (var c in text)
        {
            if (char.IsControl(c))
            {
                error = new(field, "control-characters", $"'{field}' must not contain control characters (U+0000–U+001F, U+007F–U+009F).");
                return false;
            }
        }

        value = text;
        return true;
    }

    private EventError TooLong(string field) =>
        new(field, "max-length", $"'{field}' must be at most {options.MaxIdLength} characters.");

    private bool TryReadType(ref Utf8JsonReader reader, out byte type, out EventError error)
    {
        type = 0;
        error = default;
        if (reader.TokenType == JsonTokenType.String && (!reader.ValueIsEscaped || CanUnescape(ref reader)))
        {
            for (var i = 0; i < types.Count; i++)
            {
                if (reader.ValueTextEquals(types.Utf8(i)))
                {
                    type = (byte)i;
                    return true;
                }
            }
        }
        else
        {
            reader.TrySkip();
        }

        error = new("type", "allowed-values", $"'type' must be one of {types.AllowedList}.");
        return false;
    }

    private bool TryReadTimestamp(ref Utf8JsonReader reader, long nowSeconds, out long timestamp, out EventError error)
    {
        timestamp = 0;
        error = default;
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out timestamp))
        {
            Fail(ref reader, out error, new("timestamp", "integer", "'timestamp' must be an integer number of Unix seconds, for example 1700000000."));
            return false;
        }

        return CheckTimestamp(timestamp, nowSeconds, unixSeconds: true, out error);
    }

    /// <summary>
    /// The range rules every event time obeys, however it was sent: not negative, not past now + MAX_FUTURE_SKEW, not
    /// older than EVENT_RETENTION. <paramref name="unixSeconds"/>: the producer sent a number, so a value in the future
    /// is most likely milliseconds, and the message says so.
    /// </summary>
    internal bool CheckTimestamp(long timestamp, long nowSeconds, bool unixSeconds, out EventError error)
    {
        error = default;
        if (timestamp < 0)
        {
            error = new("timestamp", "range", "'timestamp' must not be negative (Unix seconds since 1970-01-01).");
            return false;
        }

        var latest = Math.Min(UnixSecondsMax, nowSeconds + (long)options.MaxFutureSkew.TotalSeconds);
        if (timestamp > latest)
        {
            error = new("timestamp", "range", unixSeconds
                ? $"'timestamp' {timestamp} is more than {options.MaxFutureSkew} ahead of the server clock ({nowSeconds}); send Unix seconds, not milliseconds."
                : $"'timestamp' {Iso(timestamp)} is more than {options.MaxFutureSkew} ahead of the server clock ({Iso(nowSeconds)}); check the producer's clock and time zone.");
            return false;
        }

        if (options.EventRetention > TimeSpan.Zero && timestamp < nowSeconds - (long)options.EventRetention.TotalSeconds)
        {
            // Storing it would only have retention delete it again; saying so beats a silent drop.
            var earliest = nowSeconds - (long)options.EventRetention.TotalSeconds;
            error = new("timestamp", "retention",
                $"'timestamp' {timestamp} ({Iso(timestamp)}) is older than EVENT_RETENTION ({GoDuration.Format(options.EventRetention)}): events before {Iso(earliest)} are not stored. Send recent events, or raise EVENT_RETENTION.");
            return false;
        }

        return true;
    }

    private static string Iso(long unixSeconds) =>
        DateTimeOffset.FromUnixTimeSeconds(unixSeconds).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// A JSON object kept as its raw text (<c>payload</c>, or a foreign format's <c>properties</c>); <paramref name="field"/>
    /// is the name the error reports.
    /// </summary>
    internal bool TryReadPayload(ref Utf8JsonReader reader, ReadOnlySpan<byte> source, string field, out string? payload, out EventError error)
    {
        payload = null;
        error = default;
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            Fail(ref reader, out error, new(field, "type", $"'{field}' must be a JSON object (or omitted)."));
            return false;
        }

        // TokenStartIndex is relative to the buffer the reader was built on, which intake keeps contiguous.
        var start = (int)reader.TokenStartIndex;
        reader.Skip();
        var length = (int)reader.BytesConsumed - start;
        if (length > options.MaxPayloadBytes)
        {
            error = new(field, "max-size", $"'{field}' is {length} bytes; at most {options.MaxPayloadBytes} are allowed.");
            return false;
        }

        var raw = source.Slice(start, length);
        if (!Utf8.IsValid(raw))
        {
            error = new(field, "utf8", $"'{field}' is not valid UTF-8.");
            return false;
        }

        if (ContainsEscapedNul(raw))
        {
            // PostgreSQL's jsonb cannot store U+0000; refusing it here beats dead-lettering it later.
            error = new(field, "control-characters", $"'{field}' must not contain \\u0000 (NUL): PostgreSQL's jsonb cannot store it.");
            return false;
        }

        payload = Encoding.UTF8.GetString(raw);
        return true;
    }
}

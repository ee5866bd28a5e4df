using System.Text.Json;
using Hermes.Ingest.Events;

namespace Hermes.Ingest.Apis;

/// <summary>
/// Every problem Hermes's own handlers answer with, by name: the catalogue of docs/ENGINEERING.md §6. Each says what
/// was wrong (the field and the rule in the title) and how to fix it (the detail). Errors ASP.NET raises itself (404,
/// 405, unbindable values, 500) are described by <see cref="FrameworkProblems"/> in the same terms.
/// </summary>
public static class Problems
{
    // --- POST /events and POST /events/batch: admission ------------------------------------------------------

    public static Problem Unauthorized(bool keyPresented, string needed) =>
        new(StatusCodes.Status401Unauthorized, "unauthorized", "API key required",
            $"{(keyPresented ? "The API key is not valid for this endpoint" : "No API key was sent")}. Send {needed} as 'X-Api-Key: <key>' or 'Authorization: Bearer <key>'.")
        { Field = "X-Api-Key", Rule = "api-key" };

    public static Problem UnauthorizedWriteKey(bool keyPresented) =>
        new(StatusCodes.Status401Unauthorized, "unauthorized", "Write key required",
            $"{(keyPresented ? "The write key is not a producer key" : "No write key was sent")}. Set the SDK's writeKey to a producer key (API_KEYS): it is sent as HTTP Basic auth with the key as user name and an empty password.")
        { Field = "Authorization", Rule = "write-key" };

    public static Problem UnsupportedMediaType(string? sent, string expected) =>
        new(StatusCodes.Status415UnsupportedMediaType, "unsupported-media-type", "Content-Type is not supported",
            $"The request has {(sent is { Length: > 0 } ? $"'{sent}'" : "no Content-Type")}; send {expected}.")
        { Field = "Content-Type", Rule = "media-type" };

    public static Problem UnsupportedEncoding(string detail) =>
        new(StatusCodes.Status415UnsupportedMediaType, "unsupported-encoding", "Content-Encoding is not supported", detail)
        { Field = "Content-Encoding", Rule = "encoding" };

    public static Problem ShuttingDown() =>
        new(StatusCodes.Status503ServiceUnavailable, "shutting-down", "Hermes is shutting down",
            "This instance is draining and accepts no new events. Retry; another instance (or this one after restart) will take them.")
        { RetryAfterSeconds = 5 };

    public static Problem QueueFull(long length, int capacity, int count, TimeSpan? waited, int retryAfterSeconds) =>
        new(StatusCodes.Status503ServiceUnavailable, "queue-full", "Queue is full",
            $"The queue holds {length} of {capacity} events and had no room for {count} more{(waited is { } w ? $" after waiting {w}" : "")}. Nothing from this request was queued; resend it after Retry-After seconds.")
        { RetryAfterSeconds = retryAfterSeconds };

    public static Problem InvalidAck(string ack) =>
        InvalidQuery("ack", "allowed-values", $"'ack' must be 'durable' (answer 200 once the events are stored) or 'queued' (the default: 202 once queued), not '{ack}'.");

    public static Problem DurableAckUnavailable(string sink) =>
        new(StatusCodes.Status400BadRequest, "durable-ack-unavailable", "ack=durable needs a durable sink",
            $"This instance writes to the {sink} sink, which does not survive a restart. Configure PostgreSQL (DB_DSN or ConnectionStrings:hermesdb) for durable acknowledgements, or drop ?ack=durable.")
        { Field = "ack", Rule = "durable-sink" };

    public static Problem TooLarge(string field, string detail) =>
        new(StatusCodes.Status413PayloadTooLarge, "too-large", $"'{field}' is over the limit", detail) { Field = field, Rule = "max-size" };

    /// <summary>Kestrel gave up on the body: too slow (408, MIN_REQUEST_BODY_RATE), too big, or broken framing.</summary>
    public static Problem BodyRefused(BadHttpRequestException ex, int minBytesPerSecond)
    {
        var (type, title, detail) = ex.StatusCode switch
        {
            StatusCodes.Status408RequestTimeout => ("body-too-slow", "Body arrived too slowly",
                $"The body came in slower than {minBytesPerSecond} bytes/s (MIN_REQUEST_BODY_RATE). Send it at network speed."),
            StatusCodes.Status413PayloadTooLarge => ("too-large", "'body' is over the limit", ex.Message),
            _ => ("malformed-body", "Body could not be read", ex.Message),
        };
        return new(ex.StatusCode, type, title, detail) { Field = "body", Rule = "transfer" };
    }

    // --- POST /events and POST /events/batch: the events ------------------------------------------------------

    public static Problem MalformedJson(JsonException ex) =>
        new(StatusCodes.Status400BadRequest, "malformed-body", "Body is not valid JSON",
            $"Send one event as a JSON object. The parser stopped at line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1}: {BatchReader.Describe(ex)}")
        { Field = "body", Rule = "json" };

    public static Problem MalformedBatch(string detail) =>
        new(StatusCodes.Status400BadRequest, "malformed-body", "Batch is not a JSON array of events", detail) { Field = "body", Rule = "json" };

    public static Problem MalformedSegmentBody(string detail) =>
        new(StatusCodes.Status400BadRequest, "malformed-body", "Body is not a Segment call or batch", detail) { Field = "body", Rule = "json" };

    public static Problem CorruptGzip() =>
        new(StatusCodes.Status400BadRequest, "malformed-body", "Body is not valid gzip",
            "Content-Encoding says gzip but the body could not be inflated. Send a complete gzip stream, or drop the header.")
        { Field = "body", Rule = "gzip" };

    public static Problem InvalidEvent(EventError error) =>
        new(StatusCodes.Status400BadRequest, "invalid-event", $"Invalid '{error.Field}': {error.Rule}", error.Message) { Field = error.Field, Rule = error.Rule };

    /// <summary>A batch with nothing to queue: empty, or every event refused (the caller adds <c>rejected</c>).</summary>
    public static Problem NothingToQueue(bool empty) => empty
        ? new(StatusCodes.Status400BadRequest, "invalid-batch", "Batch is empty", "Send at least one event.") { Field = "events", Rule = "non-empty" }
        : new(StatusCodes.Status400BadRequest, "invalid-batch", "No valid events in the batch",
            "Every event was refused; 'rejected' says why for each index. Nothing was queued.") { Field = "events", Rule = "valid" };

    // --- POST /events and POST /events/batch: queueing and answering --------------------------------------------

    public static Problem RateLimited(double ratePerKey, int burst, int retryAfterSeconds) =>
        new(StatusCodes.Status429TooManyRequests, "rate-limited", "Rate limit exceeded",
            $"This key may send {ratePerKey} events per second (RATE_LIMIT_PER_KEY) with bursts of {burst}. Nothing from this request was queued; resend it after Retry-After seconds.")
        { RetryAfterSeconds = retryAfterSeconds };

    public static Problem OverBurst(int events, int burst) =>
        new(StatusCodes.Status429TooManyRequests, "rate-limited", "Batch is larger than the rate limit's burst",
            $"{events} events at once exceed this key's burst of {burst} (RATE_LIMIT_BURST). Send at most {burst} events per request.")
        { Field = "events", Rule = "burst", RetryAfterSeconds = 1 };

    public static Problem NotDurable(int count, string reason, int retryAfterSeconds) =>
        new(StatusCodes.Status503ServiceUnavailable, "not-durable", "Events could not be stored",
            $"The {count} events were accepted but could not be written durably ({reason}). Resend them: events with the same id are stored once.")
        { RetryAfterSeconds = retryAfterSeconds };

    // --- Reads and diagnostics ---------------------------------------------------------------------------------

    public static Problem InvalidQuery(string field, string rule, string detail) =>
        new(StatusCodes.Status400BadRequest, "invalid-query", $"Invalid '{field}': {rule}", detail) { Field = field, Rule = rule };

    public static Problem DatabaseUnavailable() =>
        new(StatusCodes.Status503ServiceUnavailable, "database-unavailable", "Database unavailable",
            "The persisted rollups cannot be read right now; GET /aggregates (without source=db) answers from memory.")
        { RetryAfterSeconds = 5 };

    public static Problem DumpFailed(string reason) =>
        new(StatusCodes.Status500InternalServerError, "dump-failed", "The runtime could not write a dump",
            $"{reason} Dumps need ptrace permission (in containers: --cap-add=SYS_PTRACE).");
}

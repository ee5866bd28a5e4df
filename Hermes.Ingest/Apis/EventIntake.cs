using System.Buffers;
using System.Text.Json;
using Hermes.Ingest.Configuration;
using Hermes.Ingest.Events;
using Hermes.Ingest.Pipeline;
using Hermes.Ingest.Security;
using Hermes.Ingest.Sinks;
using Hermes.Ingest.Telemetry;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace Hermes.Ingest.Apis;

/// <summary>
/// HTTP intake: reads a body within its limits, validates events, reserves room in the queue and enqueues.
/// Everything a request can do wrong ends here as a problem+json response; nothing invalid reaches a worker.
/// </summary>
public sealed class EventIntake(
    EventParser parser,
    EventQueue queue,
    IEventSink sink,
    ApiKeyCheck keyCheck,
    ProducerRateLimiter rateLimiter,
    IntakeGate gate,
    RetryAfterEstimator retryAfter,
    IngestMetrics metrics,
    IngestOptions options,
    TimeProvider time)
{
    private static readonly byte[] AcceptedOne = """{"accepted":1}"""u8.ToArray();

    /// <summary><c>POST /events</c>: one event.</summary>
    public async Task PostEventAsync(HttpContext context)
    {
        var request = context.Request;
        if (await keyCheck.AuthenticateProducerAsync(context) is not { } producer)
        {
            return;
        }

        if (!IsJson(request.ContentType))
        {
            await UnsupportedMediaTypeAsync(context, "application/json");
            return;
        }

        if (!await CheckOpenAsync(context, 1))
        {
            return;
        }

        var (ackOk, durable) = await ReadAckModeAsync(context);
        if (!ackOk)
        {
            return;
        }

        if (request.Headers.ContentEncoding.Count > 0 && !IsIdentity(request.Headers.ContentEncoding))
        {
            await UnsupportedEncodingAsync(context, "POST /events takes an uncompressed body; send gzip bodies to POST /events/batch.");
            return;
        }

        if (request.ContentLength > options.MaxEventBytes)
        {
            await TooLargeAsync(context, "body", $"The body is {request.ContentLength} bytes; POST /events takes at most {options.MaxEventBytes} (MAX_EVENT_BYTES). Send several events to POST /events/batch.");
            return;
        }

        BodyStatus status;
        RequestBody? body;
        try
        {
            (status, body) = await RequestBody.ReadAsync(request, options.MaxEventBytes, context.RequestAborted);
        }
        catch (BadHttpRequestException ex)
        {
            await BodyRefusedAsync(context, ex);
            return;
        }

        if (status != BodyStatus.Ok)
        {
            await TooLargeAsync(context, "body", $"The body is over {options.MaxEventBytes} bytes (MAX_EVENT_BYTES).");
            return;
        }

        EventRecord record;
        EventError error;
        bool valid;
        using (var owned = body!)
        {
            var now = time.GetUtcNow();
            try
            {
                valid = parser.TryParseDocument(owned.Span, now.ToUnixTimeSeconds(), now.ToUnixTimeMilliseconds(), out record, out error);
            }
            catch (JsonException ex)
            {
                metrics.OnRejected(RejectReason.Malformed);
                await MalformedAsync(context, ex);
                return;
            }
        }

        if (!valid)
        {
            metrics.OnRejected(RejectReason.Invalid);
            await Problem.WriteAsync(context, StatusCodes.Status400BadRequest, "invalid-event",
                $"Invalid '{error.Field}': {error.Rule}", error.Message, error.Field, error.Rule);
            return;
        }

        if (!await LimitAsync(context, producer, 1) || !await ReserveAsync(context, 1))
        {
            return;
        }

        metrics.OnKeyAccepted(producer, 1);
        var origin = EventOrigin.For(1, durable);
        queue.Enqueue(origin is null ? record : record with { Origin = origin });
        metrics.OnAccepted(1);
        if (origin is { IsDurable: true })
        {
            metrics.OnAcceptedDurable(1);
            await AnswerDurableAsync(context, origin, 1, outcome: null);
            return;
        }

        var response = context.Response;
        response.StatusCode = StatusCodes.Status202Accepted;
        response.ContentType = "application/json";
        response.ContentLength = AcceptedOne.Length;
        await response.Body.WriteAsync(AcceptedOne, context.RequestAborted);
    }

    /// <summary><c>POST /events/batch</c>: a JSON array or NDJSON, optionally gzip.</summary>
    public async Task PostBatchAsync(HttpContext context)
    {
        var request = context.Request;
        if (await keyCheck.AuthenticateProducerAsync(context) is not { } producer)
        {
            return;
        }

        var ndjson = IsNdjson(request.ContentType);
        if (!ndjson && !IsJson(request.ContentType))
        {
            await UnsupportedMediaTypeAsync(context, "application/json (an array of events) or application/x-ndjson (one event per line)");
            return;
        }

        if (!await CheckOpenAsync(context, 1))
        {
            return;
        }

        var (ackOk, durable) = await ReadAckModeAsync(context);
        if (!ackOk)
        {
            return;
        }

        var gzip = false;
        if (request.Headers.ContentEncoding.Count > 0 && !IsIdentity(request.Headers.ContentEncoding))
        {
            if (!string.Equals(request.Headers.ContentEncoding.ToString().Trim(), "gzip", StringComparison.OrdinalIgnoreCase))
            {
                await UnsupportedEncodingAsync(context, $"Content-Encoding '{request.Headers.ContentEncoding}' is not supported; send gzip or an uncompressed body.");
                return;
            }

            gzip = true;
        }

        if (request.ContentLength > options.MaxBatchBytes)
        {
            await TooLargeAsync(context, "body", $"The body is {request.ContentLength} bytes; at most {options.MaxBatchBytes} are allowed (MAX_BATCH_BYTES). Split the batch.");
            return;
        }

        // Kestrel enforces the wire limit while streaming, including for gzip bodies whose length is not sent.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = options.MaxBatchBytes;
        }

        BodyStatus status;
        RequestBody? body;
        try
        {
            (status, body) = gzip
                ? await RequestBody.ReadGzipAsync(request, options.MaxInflatedBytes, context.RequestAborted)
                : await RequestBody.ReadAsync(request, options.MaxBatchBytes, context.RequestAborted);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            status = BodyStatus.TooLarge;
            body = null;
        }
        catch (BadHttpRequestException ex)
        {
            await BodyRefusedAsync(context, ex);
            return;
        }

        switch (status)
        {
            case BodyStatus.TooLarge:
                await TooLargeAsync(context, "body", $"The body is over {options.MaxBatchBytes} bytes (MAX_BATCH_BYTES). Split the batch.");
                return;
            case BodyStatus.InflatedTooLarge:
                await TooLargeAsync(context, "body", $"The gzip body inflates to more than {options.MaxInflatedBytes} bytes (MAX_INFLATED_BYTES). Split the batch.");
                return;
            case BodyStatus.CorruptGzip:
                metrics.OnRejected(RejectReason.Malformed);
                await Problem.WriteAsync(context, StatusCodes.Status400BadRequest, "malformed-body", "Body is not valid gzip",
                    "Content-Encoding says gzip but the body could not be inflated. Send a complete gzip stream, or drop the header.", "body", "gzip");
                return;
        }

        var outcome = new BatchOutcome(options.MaxBatchEvents);
        try
        {
            using (var owned = body!)
            {
                var now = time.GetUtcNow();
                var parse = ndjson
                    ? BatchReader.ReadNdjson(parser, owned.Span, now, options, outcome)
                    : BatchReader.ReadArray(parser, owned.Span, now, options, outcome);
                switch (parse.Status)
                {
                    case BatchStatus.TooManyEvents:
                        await TooLargeAsync(context, "events", $"The batch has more than {options.MaxBatchEvents} events (MAX_BATCH_EVENTS). Split it.");
                        return;
                    case BatchStatus.Malformed:
                        metrics.OnRejected(RejectReason.Malformed);
                        await Problem.WriteAsync(context, StatusCodes.Status400BadRequest, "malformed-body", "Batch is not a JSON array of events",
                            parse.Message!, "body", "json");
                        return;
                }
            }

            if (outcome.Rejected.Count > 0)
            {
                metrics.OnRejected(RejectReason.Invalid, outcome.Rejected.Count);
            }

            if (outcome.Count == 0)
            {
                await Problem.WriteAsync(context, StatusCodes.Status400BadRequest, "invalid-batch",
                    outcome.Rejected.Count == 0 ? "Batch is empty" : "No valid events in the batch",
                    outcome.Rejected.Count == 0 ? "Send at least one event." : "Every event was refused; 'rejected' says why for each index. Nothing was queued.",
                    "events", outcome.Rejected.Count == 0 ? "non-empty" : "valid",
                    extensions: outcome.WriteRejected);
                return;
            }

            if (!await LimitAsync(context, producer, outcome.Count) || !await ReserveAsync(context, outcome.Count))
            {
                return;
            }

            metrics.OnKeyAccepted(producer, outcome.Count);
            var origin = EventOrigin.For(outcome.Count, durable);
            if (origin is not null)
            {
                outcome.AttachOrigin(origin);
            }

            queue.Enqueue(outcome.Events);
            metrics.OnAccepted(outcome.Count);
            if (origin is { IsDurable: true })
            {
                metrics.OnAcceptedDurable(outcome.Count);
                await AnswerDurableAsync(context, origin, outcome.Count, outcome);
                return;
            }

            await WriteAcceptedAsync(context, StatusCodes.Status202Accepted, outcome.Count, durable: false, outcome);
        }
        finally
        {
            outcome.Dispose();
        }
    }

    /// <summary>RATE_LIMIT_PER_KEY: takes one token per event from the producer's bucket, or answers 429.</summary>
    private async ValueTask<bool> LimitAsync(HttpContext context, string producer, int events)
    {
        if (!rateLimiter.Enabled)
        {
            return true;
        }

        var wait = TimeSpan.Zero;
        if (events <= rateLimiter.Burst && rateLimiter.TryAcquire(producer, events, out wait))
        {
            return true;
        }

        metrics.OnRejected(RejectReason.RateLimited, events);
        metrics.OnKeyRateLimited(producer, events);
        if (events > rateLimiter.Burst)
        {
            await Problem.WriteAsync(context, StatusCodes.Status429TooManyRequests, "rate-limited", "Batch is larger than the rate limit's burst",
                $"{events} events at once exceed this key's burst of {rateLimiter.Burst} (RATE_LIMIT_BURST). Send at most {rateLimiter.Burst} events per request.",
                "events", "burst", retryAfterSeconds: 1);
            return false;
        }

        var seconds = (int)Math.Clamp(Math.Ceiling(wait.TotalSeconds), 1, 60);
        await Problem.WriteAsync(context, StatusCodes.Status429TooManyRequests, "rate-limited", "Rate limit exceeded",
            $"This key may send {options.RateLimitPerKey} events per second (RATE_LIMIT_PER_KEY) with bursts of {rateLimiter.Burst}. Nothing from this request was queued; resend it after Retry-After seconds.",
            retryAfterSeconds: seconds);
        return false;
    }

    /// <summary><c>?ack=durable</c>: answer only once the events are committed (or fsynced to the spill).</summary>
    private async ValueTask<(bool Ok, bool Durable)> ReadAckModeAsync(HttpContext context)
    {
        if (!context.Request.QueryString.HasValue)
        {
            return (true, false);
        }

        var ack = context.Request.Query["ack"];
        if (ack.Count == 0 || ack == "queued")
        {
            return (true, false);
        }

        if (ack != "durable")
        {
            await Problem.WriteAsync(context, StatusCodes.Status400BadRequest, "invalid-query", "Invalid 'ack': allowed-values",
                $"'ack' must be 'durable' (answer 200 once the events are stored) or 'queued' (the default: 202 once queued), not '{ack}'.", "ack", "allowed-values");
            return (false, false);
        }

        if (!sink.IsDurable)
        {
            await Problem.WriteAsync(context, StatusCodes.Status400BadRequest, "durable-ack-unavailable", "ack=durable needs a durable sink",
                $"This instance writes to the {sink.Name} sink, which does not survive a restart. Configure PostgreSQL (DB_DSN or ConnectionStrings:hermesdb) for durable acknowledgements, or drop ?ack=durable.",
                "ack", "durable-sink");
            return (false, false);
        }

        return (true, true);
    }

    /// <summary>Waits for the sink, then answers 200 (stored) or 503 (not stored: resend; ids make that safe).</summary>
    private async Task AnswerDurableAsync(HttpContext context, EventOrigin ack, int count, BatchOutcome? outcome)
    {
        queue.Expedite();
        try
        {
            await ack.Completion.WaitAsync(context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            // The client left; its events are queued and will be written all the same.
            return;
        }
        catch (Exception ex)
        {
            await Problem.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "not-durable", "Events could not be stored",
                $"The {count} events were accepted but could not be written durably ({ex.Message}). Resend them: events with the same id are stored once.",
                retryAfterSeconds: retryAfter.Seconds());
            return;
        }

        await WriteAcceptedAsync(context, StatusCodes.Status200OK, count, durable: true, outcome);
    }

    /// <summary><c>{"accepted": N, "durable": true?, "rejected": [...]?}</c> with the given status.</summary>
    private static async Task WriteAcceptedAsync(HttpContext context, int status, int count, bool durable, BatchOutcome? outcome)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json";
        using (var json = new Utf8JsonWriter(response.BodyWriter, Problem.WriterOptions))
        {
            json.WriteStartObject();
            json.WriteNumber("accepted"u8, count);
            if (durable)
            {
                json.WriteBoolean("durable"u8, true);
            }

            outcome?.WriteRejected(json);
            json.WriteEndObject();
        }

        await response.BodyWriter.FlushAsync(context.RequestAborted);
    }

    private async ValueTask<bool> CheckOpenAsync(HttpContext context, int events)
    {
        if (gate.IsOpen)
        {
            // Overloaded in strict mode: refuse before reading and parsing a body that could not be queued anyway.
            if (options.BackpressureMode == BackpressureMode.Strict && queue.Length >= queue.Capacity)
            {
                await QueueFullAsync(context, events);
                return false;
            }

            return true;
        }

        metrics.OnRejected(RejectReason.ShuttingDown, events);
        context.Response.Headers.Connection = "close";
        await Problem.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "shutting-down", "Hermes is shutting down",
            "This instance is draining and accepts no new events. Retry; another instance (or this one after restart) will take them.",
            retryAfterSeconds: 5);
        return false;
    }

    private async ValueTask<bool> ReserveAsync(HttpContext context, int count)
    {
        var reserved = options.BackpressureMode == BackpressureMode.Block
            ? await queue.ReserveAsync(count, options.BlockTimeout, time, context.RequestAborted)
            : queue.TryReserve(count);
        if (reserved)
        {
            return true;
        }

        await QueueFullAsync(context, count);
        return false;
    }

    private async Task QueueFullAsync(HttpContext context, int count)
    {
        metrics.OnRejected(RejectReason.QueueFull, count);
        var seconds = retryAfter.Seconds();
        var waited = options.BackpressureMode == BackpressureMode.Block ? $" after waiting {options.BlockTimeout}" : "";
        await Problem.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "queue-full", "Queue is full",
            $"The queue holds {queue.Length} of {queue.Capacity} events and had no room for {count} more{waited}. Nothing from this request was queued; resend it after Retry-After seconds.",
            retryAfterSeconds: seconds);
    }

    /// <summary>Kestrel gave up on the body: too slow (408, MIN_REQUEST_BODY_RATE), too big, or broken framing.</summary>
    private async Task BodyRefusedAsync(HttpContext context, BadHttpRequestException ex)
    {
        metrics.OnRejected(ex.StatusCode == StatusCodes.Status413PayloadTooLarge ? RejectReason.TooLarge : RejectReason.Malformed);
        context.Response.Headers.Connection = "close";
        var (type, title, detail) = ex.StatusCode switch
        {
            StatusCodes.Status408RequestTimeout => ("body-too-slow", "Body arrived too slowly",
                $"The body came in slower than {options.MinRequestBodyBytesPerSecond} bytes/s (MIN_REQUEST_BODY_RATE). Send it at network speed."),
            StatusCodes.Status413PayloadTooLarge => ("too-large", "'body' is over the limit", ex.Message),
            _ => ("malformed-body", "Body could not be read", ex.Message),
        };
        try
        {
            await Problem.WriteAsync(context, ex.StatusCode, type, title, detail, "body", "transfer");
        }
        catch (Exception write) when (write is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The connection is already being torn down; nothing more to tell the client.
        }
    }

    private async Task TooLargeAsync(HttpContext context, string field, string detail)
    {
        metrics.OnRejected(RejectReason.TooLarge);
        context.Response.Headers.Connection = "close";
        await Problem.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "too-large", $"'{field}' is over the limit", detail, field, "max-size");
    }

    private async Task UnsupportedMediaTypeAsync(HttpContext context, string expected)
    {
        metrics.OnRejected(RejectReason.UnsupportedMediaType);
        var sent = context.Request.ContentType is { Length: > 0 } ct ? $"'{ct}'" : "no Content-Type";
        await Problem.WriteAsync(context, StatusCodes.Status415UnsupportedMediaType, "unsupported-media-type", "Content-Type is not supported",
            $"The request has {sent}; send {expected}.", "Content-Type", "media-type");
    }

    private async Task UnsupportedEncodingAsync(HttpContext context, string detail)
    {
        metrics.OnRejected(RejectReason.UnsupportedMediaType);
        await Problem.WriteAsync(context, StatusCodes.Status415UnsupportedMediaType, "unsupported-encoding", "Content-Encoding is not supported",
            detail, "Content-Encoding", "encoding");
    }

    private static Task MalformedAsync(HttpContext context, JsonException ex) =>
        Problem.WriteAsync(context, StatusCodes.Status400BadRequest, "malformed-body", "Body is not valid JSON",
            $"Send one event as a JSON object. The parser stopped at line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1}: {BatchReader.Describe(ex)}", "body", "json");

    private static bool IsJson(string? contentType) =>
        string.Equals(contentType, "application/json", StringComparison.OrdinalIgnoreCase)
        || MediaTypeHeaderValue.TryParse(contentType, out var media)
        && (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || media.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));

    private static bool IsNdjson(string? contentType) =>
        string.Equals(contentType, "application/x-ndjson", StringComparison.OrdinalIgnoreCase)
        || MediaTypeHeaderValue.TryParse(contentType, out var media)
        && (media.MediaType.Equals("application/x-ndjson", StringComparison.OrdinalIgnoreCase)
            || media.MediaType.Equals("application/ndjson", StringComparison.OrdinalIgnoreCase)
            || media.MediaType.Equals("application/jsonl", StringComparison.OrdinalIgnoreCase));

    private static bool IsIdentity(Microsoft.Extensions.Primitives.StringValues encoding) =>
        string.Equals(encoding.ToString().Trim(), "identity", StringComparison.OrdinalIgnoreCase);
}

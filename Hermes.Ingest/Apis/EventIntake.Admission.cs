using System.Runtime.CompilerServices;
using Hermes.Ingest.Configuration;
using Hermes.Ingest.Telemetry;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Hermes.Ingest.Apis;

/// <summary>The admission step both endpoints share: everything checked before an event is parsed.</summary>
public sealed partial class EventIntake
{
    /// <summary>A request that may be parsed: who sent it, how it wants its answer, and its body.</summary>
    private readonly record struct Admission(string Producer, bool Durable, bool Ndjson, RequestBody Body);

    /// <summary>Which endpoint is admitting: the rules differ only in key, Content-Type, encoding and limit.</summary>
    private enum Route
    {
        /// <summary><c>POST /events</c>: JSON, uncompressed, MAX_EVENT_BYTES.</summary>
        Event,

        /// <summary><c>POST /events/batch</c>: JSON or NDJSON, gzip allowed, MAX_BATCH_BYTES.</summary>
        Batch,

        /// <summary>
        /// <c>POST /v1/batch</c> and <c>/v1/track</c>: the write key (HTTP Basic), JSON whatever the Content-Type says,
        /// gzip allowed, MAX_BATCH_BYTES. The RudderStack Node SDK labels its gzip JSON
        /// <c>application/x-www-form-urlencoded</c> (axios's default for a Buffer), so the label cannot be trusted.
        /// </summary>
        Segment,
    }

    /// <summary>
    /// The preamble, in order: the producer key (401), Content-Type (415), the gate and in strict mode a full queue
    /// (503, before the body is read), <c>?ack</c> (400), Content-Encoding (415), the declared Content-Length (413),
    /// then the body itself within its limit (413, 408). Null once a refusal has been answered.
    /// </summary>
    /// <remarks>The Segment route has no Content-Type check (see <see cref="Route.Segment"/>).</remarks>
    // Pooled: when the body has not all arrived this method completes asynchronously, and a pooled box keeps that
    // from costing an allocation per request on top of the handler's own.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Admission?> AdmitAsync(HttpContext context, Route route)
    {
        var request = context.Request;
        var producer = route == Route.Segment
            ? await keyCheck.AuthenticateWriteKeyAsync(context)
            : await keyCheck.AuthenticateProducerAsync(context);
        if (producer is null)
        {
            return null;
        }

        var batch = route != Route.Event;
        var ndjson = route == Route.Batch && IsNdjson(request.ContentType);
        if (route != Route.Segment && !ndjson && !IsJson(request.ContentType))
        {
            var expected = batch ? "application/json (an array of events) or application/x-ndjson (one event per line)" : "application/json";
            await RefuseAsync(context, RejectReason.UnsupportedMediaType, Problems.UnsupportedMediaType(request.ContentType, expected));
            return null;
        }

        if (!await CheckOpenAsync(context) || await ReadAckModeAsync(context) is not { } durable)
        {
            return null;
        }

        var gzip = false;
        var encoding = request.Headers.ContentEncoding;
        if (encoding.Count > 0 && !Is(encoding, "identity"))
        {
            if (!batch || !Is(encoding, "gzip"))
            {
                var detail = batch
                    ? $"Content-Encoding '{encoding}' is not supported; send gzip or an uncompressed body."
                    : "POST /events takes an uncompressed body; send gzip bodies to POST /events/batch.";
                await RefuseAsync(context, RejectReason.UnsupportedMediaType, Problems.UnsupportedEncoding(detail));
                return null;
            }

            gzip = true;
        }

        var limit = batch ? options.MaxBatchBytes : options.MaxEventBytes;
        if (request.ContentLength > limit)
        {
            await RefuseTooLargeAsync(context, "body", batch
                ? $"The body is {request.ContentLength} bytes; at most {limit} are allowed (MAX_BATCH_BYTES). Split the batch."
                : $"The body is {request.ContentLength} bytes; POST /events takes at most {limit} (MAX_EVENT_BYTES). Send several events to POST /events/batch.");
            return null;
        }

        // Kestrel enforces the wire limit while streaming, including for gzip bodies whose length is not sent.
        if (batch && context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = limit;
        }

        return await ReadBodyAsync(context, batch, gzip) is { } body ? new Admission(producer, durable, ndjson, body) : null;
    }

    /// <summary>The whole body as one span, within MAX_EVENT_BYTES, or MAX_BATCH_BYTES and MAX_INFLATED_BYTES.</summary>
    private async ValueTask<RequestBody?> ReadBodyAsync(HttpContext context, bool batch, bool gzip)
    {
        BodyStatus status;
        RequestBody? body;
        try
        {
            (status, body) = gzip
                ? await RequestBody.ReadGzipAsync(context.Request, options.MaxInflatedBytes, context.RequestAborted)
                : await RequestBody.ReadAsync(context.Request, batch ? options.MaxBatchBytes : options.MaxEventBytes, context.RequestAborted);
        }
        catch (BadHttpRequestException ex) when (batch && ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            (status, body) = (BodyStatus.TooLarge, null);
        }
        catch (BadHttpRequestException ex)
        {
            await RefuseBodyAsync(context, ex);
            return null;
        }

        switch (status)
        {
            case BodyStatus.Ok:
                return body;
            case BodyStatus.TooLarge when batch:
                await RefuseTooLargeAsync(context, "body", $"The body is over {options.MaxBatchBytes} bytes (MAX_BATCH_BYTES). Split the batch.");
                return null;
            case BodyStatus.TooLarge:
                await RefuseTooLargeAsync(context, "body", $"The body is over {options.MaxEventBytes} bytes (MAX_EVENT_BYTES).");
                return null;
            case BodyStatus.InflatedTooLarge:
                await RefuseTooLargeAsync(context, "body", $"The gzip body inflates to more than {options.MaxInflatedBytes} bytes (MAX_INFLATED_BYTES). Split the batch.");
                return null;
            default:
                await RefuseAsync(context, RejectReason.Malformed, Problems.CorruptGzip());
                return null;
        }
    }

    /// <summary>The gate (503 shutting-down) and, in strict mode, a queue already full (503 before the body is read).</summary>
    private async ValueTask<bool> CheckOpenAsync(HttpContext context)
    {
        if (!gate.IsOpen)
        {
            context.Response.Headers.Connection = "close";
            await RefuseAsync(context, RejectReason.ShuttingDown, Problems.ShuttingDown());
            return false;
        }

        // Overloaded in strict mode: refuse before reading and parsing a body that could not be queued anyway.
        if (options.BackpressureMode == BackpressureMode.Strict && queue.Length >= queue.Capacity)
        {
            await RefuseQueueFullAsync(context, 1);
            return false;
        }

        return true;
    }

    /// <summary><c>?ack=durable</c>: answer only once the events are committed (or fsynced to the spill). Null after a 400.</summary>
    private async ValueTask<bool?> ReadAckModeAsync(HttpContext context)
    {
        if (!context.Request.QueryString.HasValue)
        {
            return false;
        }

        var ack = context.Request.Query["ack"];
        if (ack.Count == 0 || ack == "queued")
        {
            return false;
        }

        if (ack != "durable")
        {
            await Problems.InvalidAck(ack.ToString()).WriteAsync(context);
            return null;
        }

        if (!sink.IsDurable)
        {
            await Problems.DurableAckUnavailable(sink.Name).WriteAsync(context);
            return null;
        }

        return true;
    }

    /// <summary>Kestrel gave up on the body: too slow (408, MIN_REQUEST_BODY_RATE), too big, or broken framing.</summary>
    private async Task RefuseBodyAsync(HttpContext context, BadHttpRequestException ex)
    {
        context.Response.Headers.Connection = "close";
        try
        {
            var reason = ex.StatusCode == StatusCodes.Status413PayloadTooLarge ? RejectReason.TooLarge : RejectReason.Malformed;
            await RefuseAsync(context, reason, Problems.BodyRefused(ex, options.MinRequestBodyBytesPerSecond));
        }
        catch (Exception write) when (write is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The connection is already being torn down; nothing more to tell the client.
        }
    }

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

    private static bool Is(StringValues encoding, string name) =>
        string.Equals(encoding.ToString().Trim(), name, StringComparison.OrdinalIgnoreCase);
}

using System.Text.Json;
using Hermes.Ingest.Configuration;
using Hermes.Ingest.Events;
using Hermes.Ingest.Telemetry;

namespace Hermes.Ingest.Apis;

/// <summary>What both endpoints do with their valid events: take tokens, take room, and answer once queued (or stored).</summary>
public sealed partial class EventIntake
{
    private static readonly byte[] AcceptedOne = """{"accepted":1}"""u8.ToArray();

    /// <summary>The producer's tokens (429), then room in the queue (503): for all <paramref name="count"/> events or none.</summary>
    private async ValueTask<bool> MakeRoomAsync(HttpContext context, string producer, int count)
    {
        if (rateLimiter.Enabled && !await TakeTokensAsync(context, producer, count))
        {
            return false;
        }

        var reserved = options.BackpressureMode == BackpressureMode.Block
            ? await queue.ReserveAsync(count, options.BlockTimeout, time, context.RequestAborted)
            : queue.TryReserve(count);
        if (!reserved)
        {
            await RefuseQueueFullAsync(context, count);
        }

        return reserved;
    }

    /// <summary>RATE_LIMIT_PER_KEY: takes one token per event from the producer's bucket, or answers 429.</summary>
    private async ValueTask<bool> TakeTokensAsync(HttpContext context, string producer, int events)
    {
        var wait = TimeSpan.Zero;
        if (events <= rateLimiter.Burst && rateLimiter.TryAcquire(producer, events, out wait))
        {
            return true;
        }

        metrics.OnKeyRateLimited(producer, events);
        var problem = events > rateLimiter.Burst
            ? Problems.OverBurst(events, rateLimiter.Burst)
            : Problems.RateLimited(options.RateLimitPerKey, rateLimiter.Burst, (int)Math.Clamp(Math.Ceiling(wait.TotalSeconds), 1, 60));
        await RefuseAsync(context, RejectReason.RateLimited, problem, events);
        return false;
    }

    private Task RefuseQueueFullAsync(HttpContext context, int count) =>
        RefuseAsync(context, RejectReason.QueueFull,
            Problems.QueueFull(queue.Length, queue.Capacity, count, options.BackpressureMode == BackpressureMode.Block ? options.BlockTimeout : null, retryAfter.Seconds()),
            count);

    /// <summary>The events are queued: count them, then 202, or for <c>?ack=durable</c> 200 once stored.</summary>
    private async Task AnswerAsync(HttpContext context, string producer, EventOrigin? origin, int count, BatchOutcome? outcome)
    {
        metrics.OnKeyAccepted(producer, count);
        metrics.OnAccepted(count);
        if (origin is { IsDurable: true })
        {
            metrics.OnAcceptedDurable(count);
            await AnswerDurableAsync(context, origin, count, outcome);
        }
        else if (outcome is null)
        {
            var response = context.Response;
            response.StatusCode = StatusCodes.Status202Accepted;
            response.ContentType = "application/json";
            response.ContentLength = AcceptedOne.Length;
            await response.Body.WriteAsync(AcceptedOne, context.RequestAborted);
        }
        else
        {
            await WriteAcceptedAsync(context, StatusCodes.Status202Accepted, count, durable: false, outcome);
        }
    }

    /// <summary>Waits for the sink, then answers 200 (stored) or 503 (not stored: resend; ids make that safe).</summary>
    private async Task AnswerDurableAsync(HttpContext context, EventOrigin ack, int count, BatchOutcome? outcome)
    {
        if (await WaitStoredAsync(context, ack, count))
        {
            await WriteAcceptedAsync(context, StatusCodes.Status200OK, count, durable: true, outcome);
        }
    }

    /// <summary>True once the request's events are stored; false after a 503 not-durable, or when the client left.</summary>
    private async ValueTask<bool> WaitStoredAsync(HttpContext context, EventOrigin ack, int count)
    {
        queue.Expedite();
        try
        {
            await ack.Completion.WaitAsync(context.RequestAborted);
            return true;
        }
        catch (OperationCanceledException)
        {
            // The client left; its events are queued and will be written all the same.
            return false;
        }
        catch (Exception ex)
        {
            await Problems.NotDurable(count, ex.Message, retryAfter.Seconds()).WriteAsync(context);
            return false;
        }
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
}

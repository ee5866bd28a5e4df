using System.Text.Json;
using Hermes.Ingest.Events;
using Hermes.Ingest.Telemetry;

namespace Hermes.Ingest.Apis;

/// <summary>
/// The Segment tracking API (<c>POST /v1/batch</c>, <c>POST /v1/track</c>), so the Segment and RudderStack SDKs send to
/// Hermes unchanged: the same admission (write key as a producer key, gate, encoding, limits), the same rate limit,
/// queue and problems as <c>/events/batch</c>; only the body's shape (<see cref="Events.Segment.SegmentReader"/>)
/// and the success answer differ.
/// </summary>
public sealed partial class EventIntake
{
    /// <summary><c>POST /v1/batch</c>: <c>{"batch":[call, …]}</c>, optionally gzip.</summary>
    public Task PostSegmentBatchAsync(HttpContext context) => PostSegmentAsync(context, single: false);

    /// <summary><c>POST /v1/track</c>: one track call.</summary>
    public Task PostSegmentTrackAsync(HttpContext context) => PostSegmentAsync(context, single: true);

    private async Task PostSegmentAsync(HttpContext context, bool single)
    {
        if (await AdmitAsync(context, Route.Segment) is not { } admission)
        {
            return;
        }

        using var outcome = new BatchOutcome(options.MaxBatchEvents);
        var ignored = new int[IngestMetrics.IgnoredSegmentCalls.Length];
        using (admission.Body)
        {
            var now = time.GetUtcNow();
            var parse = single
                ? segment.ReadTrack(admission.Body.Span, now, outcome)
                : segment.ReadBatch(admission.Body.Span, now, outcome, ignored);
            switch (parse.Status)
            {
                case BatchStatus.TooManyEvents:
                    await RefuseTooLargeAsync(context, "events", $"The batch has more than {options.MaxBatchEvents} calls (MAX_BATCH_EVENTS). Lower the SDK's flushAt.");
                    return;
                case BatchStatus.Malformed:
                    await RefuseAsync(context, RejectReason.Malformed, Problems.MalformedSegmentBody(parse.Message!));
                    return;
            }
        }

        if (outcome.Rejected.Count > 0)
        {
            metrics.OnRejected(RejectReason.Invalid, outcome.Rejected.Count);
        }

        var ignoredCount = ignored.Sum();
        if (outcome.Count == 0 && ignoredCount == 0)
        {
            // Nothing a resend could fix: 400 makes both SDKs drop the batch instead of retrying it.
            await (single
                ? Problems.InvalidEvent(outcome.Rejected[0].Error).WriteAsync(context)
                : Problems.NothingToQueue(empty: outcome.Rejected.Count == 0).WriteAsync(context, outcome.WriteRejected));
            return;
        }

        EventOrigin? origin = null;
        if (outcome.Count > 0)
        {
            if (!await MakeRoomAsync(context, admission.Producer, outcome.Count))
            {
                return;
            }

            origin = EventOrigin.For(outcome.Count, admission.Durable);
            if (origin is not null)
            {
                outcome.AttachOrigin(origin);
            }

            queue.Enqueue(outcome.Events);
            metrics.OnKeyAccepted(admission.Producer, outcome.Count);
            metrics.OnAccepted(outcome.Count);
            if (origin is { IsDurable: true })
            {
                metrics.OnAcceptedDurable(outcome.Count);
                if (!await WaitStoredAsync(context, origin, outcome.Count))
                {
                    return;
                }
            }
        }

        // Counted once answered: a batch refused with 429/503 comes back, ignored calls included.
        metrics.OnSegmentIgnored(ignored);
        await WriteSegmentSuccessAsync(context, outcome, ignoredCount, durable: origin is { IsDurable: true });
    }

    /// <summary>
    /// 200 <c>{"success":true,"accepted":N,"ignored":M,"durable":true?,"rejected":[…]?}</c>. Segment's API answers 200
    /// <c>{"success":true}</c>; both SDKs take any 2xx as delivered and read nothing else, so Hermes's counts ride along.
    /// 200 here means queued, as 202 does on <c>/events</c>, unless <c>?ack=durable</c> asked for stored.
    /// </summary>
    private static async Task WriteSegmentSuccessAsync(HttpContext context, BatchOutcome outcome, int ignored, bool durable)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        using (var json = new Utf8JsonWriter(response.BodyWriter, Problem.WriterOptions))
        {
            json.WriteStartObject();
            json.WriteBoolean("success"u8, true);
            json.WriteNumber("accepted"u8, outcome.Count);
            json.WriteNumber("ignored"u8, ignored);
            if (durable)
            {
                json.WriteBoolean("durable"u8, true);
            }

            if (outcome.Rejected.Count > 0)
            {
                outcome.WriteRejected(json);
            }

            json.WriteEndObject();
        }

        await response.BodyWriter.FlushAsync(context.RequestAborted);
    }
}

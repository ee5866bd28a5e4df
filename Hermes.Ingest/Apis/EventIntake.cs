using System.Text.Json;
using Hermes.Ingest.Configuration;
using Hermes.Ingest.Events;
using Hermes.Ingest.Events.Segment;
using Hermes.Ingest.Pipeline;
using Hermes.Ingest.Security;
using Hermes.Ingest.Sinks;
using Hermes.Ingest.Telemetry;
using Microsoft.Extensions.Options;

namespace Hermes.Ingest.Apis;

/// <summary>
/// HTTP intake, in the order of docs/ENGINEERING.md §4: admission (key, Content-Type, gate, <c>?ack</c>, encoding,
/// declared length, then the body within its limit: <c>EventIntake.Admission.cs</c>), parsing, and queueing and
/// answering (rate limit, reservation, enqueue, 202 or the durable wait: <c>EventIntake.Queueing.cs</c>). Everything
/// a request can do wrong ends here as one of the named <see cref="Problems"/>; nothing invalid reaches a worker.
/// </summary>
public sealed partial class EventIntake(
    EventParser parser,
    SegmentReader segment,
    EventQueue queue,
    IEventSink sink,
    ApiKeyCheck keyCheck,
    ProducerRateLimiter rateLimiter,
    IntakeGate gate,
    RetryAfterEstimator retryAfter,
    IngestMetrics metrics,
    IOptions<IngestOptions> options,
    TimeProvider time)
{
    // Read on every request: the bound instance in a field, not IOptions<T>.Value each time.
    private readonly IngestOptions options = options.Value;

    /// <summary><c>POST /events</c>: one event.</summary>
    public async Task PostEventAsync(HttpContext context)
    {
        if (await AdmitAsync(context, Route.Event) is not { } admission)
        {
            return;
        }

        EventRecord record;
        EventError error;
        bool valid;
        using (admission.Body)
        {
            var now = time.GetUtcNow();
            try
            {
                valid = parser.TryParseDocument(admission.Body.Span, now.ToUnixTimeSeconds(), now.ToUnixTimeMilliseconds(), out record, out error);
            }
            catch (JsonException ex)
            {
                await RefuseAsync(context, RejectReason.Malformed, Problems.MalformedJson(ex));
                return;
            }
        }

        if (!valid)
        {
            await RefuseAsync(context, RejectReason.Invalid, Problems.InvalidEvent(error));
            return;
        }

        if (!await MakeRoomAsync(context, admission.Producer, 1))
        {
            return;
        }

        var origin = EventOrigin.For(1, admission.Durable);
        queue.Enqueue(origin is null ? record : record with { Origin = origin });
        await AnswerAsync(context, admission.Producer, origin, 1, outcome: null);
    }

    /// <summary><c>POST /events/batch</c>: a JSON array or NDJSON, optionally gzip.</summary>
    public async Task PostBatchAsync(HttpContext context)
    {
        if (await AdmitAsync(context, Route.Batch) is not { } admission)
        {
            return;
        }

        using var outcome = new BatchOutcome(options.MaxBatchEvents);
        using (admission.Body)
        {
            var now = time.GetUtcNow();
            var parse = admission.Ndjson
                ? BatchReader.ReadNdjson(parser, admission.Body.Span, now, options, outcome)
                : BatchReader.ReadArray(parser, admission.Body.Span, now, options, outcome);
            switch (parse.Status)
            {
                case BatchStatus.TooManyEvents:
                    await RefuseTooLargeAsync(context, "events", $"The batch has more than {options.MaxBatchEvents} events (MAX_BATCH_EVENTS). Split it.");
                    return;
                case BatchStatus.Malformed:
                    await RefuseAsync(context, RejectReason.Malformed, Problems.MalformedBatch(parse.Message!));
                    return;
            }
        }

        if (outcome.Rejected.Count > 0)
        {
            metrics.OnRejected(RejectReason.Invalid, outcome.Rejected.Count);
        }

        if (outcome.Count == 0)
        {
            await Problems.NothingToQueue(empty: outcome.Rejected.Count == 0).WriteAsync(context, outcome.WriteRejected);
            return;
        }

        if (!await MakeRoomAsync(context, admission.Producer, outcome.Count))
        {
            return;
        }

        var origin = EventOrigin.For(outcome.Count, admission.Durable);
        if (origin is not null)
        {
            outcome.AttachOrigin(origin);
        }

        queue.Enqueue(outcome.Events);
        await AnswerAsync(context, admission.Producer, origin, outcome.Count, outcome);
    }

    /// <summary>Counts the refusal and answers with the problem.</summary>
    private Task RefuseAsync(HttpContext context, RejectReason reason, Problem problem, int count = 1)
    {
        metrics.OnRejected(reason, count);
        return problem.WriteAsync(context);
    }

    /// <summary>413: the connection is closed too, since the rest of the body may still be on its way.</summary>
    private Task RefuseTooLargeAsync(HttpContext context, string field, string detail)
    {
        context.Response.Headers.Connection = "close";
        return RefuseAsync(context, RejectReason.TooLarge, Problems.TooLarge(field, detail));
    }
}

namespace Hermes.Ingest.Apis;

/// <summary>The shape of a Segment call, for the OpenAPI document only; intake parses UTF-8 directly.</summary>
/// <param name="Type">'track' is stored; 'identify', 'page', 'screen', 'group' and 'alias' are accepted and ignored.</param>
/// <param name="Event">The action's name; its snake_case (or its SEGMENT_EVENT_MAP entry) must be one of EVENT_TYPES.</param>
/// <param name="MessageId">Stored as the event's id; the same messageId and timestamp are stored once.</param>
/// <param name="UserId">Stored as user_id.</param>
/// <param name="AnonymousId">Stored as user_id when there is no userId.</param>
/// <param name="Timestamp">ISO 8601; else originalTimestamp, else sentAt, else the time of receipt. Cut to the second.</param>
/// <param name="Properties">Stored as the payload, at most MAX_PAYLOAD_BYTES.</param>
public sealed record SegmentCallDocument(
    [property: System.Text.Json.Serialization.JsonPropertyName("type")] string Type,
    [property: System.Text.Json.Serialization.JsonPropertyName("event")] string? Event,
    [property: System.Text.Json.Serialization.JsonPropertyName("messageId")] string MessageId,
    [property: System.Text.Json.Serialization.JsonPropertyName("userId")] string? UserId,
    [property: System.Text.Json.Serialization.JsonPropertyName("anonymousId")] string? AnonymousId,
    [property: System.Text.Json.Serialization.JsonPropertyName("timestamp")] DateTimeOffset? Timestamp,
    [property: System.Text.Json.Serialization.JsonPropertyName("properties")] Dictionary<string, object?>? Properties = null);

/// <param name="Batch">The calls.</param>
/// <param name="SentAt">When the batch was sent; the time of calls that carry none of their own.</param>
public sealed record SegmentBatchDocument(
    [property: System.Text.Json.Serialization.JsonPropertyName("batch")] SegmentCallDocument[] Batch,
    [property: System.Text.Json.Serialization.JsonPropertyName("sentAt")] DateTimeOffset? SentAt = null);

/// <summary>Answer to an accepted Segment request.</summary>
/// <param name="Success">Always true: what the SDKs' own API answers.</param>
/// <param name="Accepted">Track calls queued.</param>
/// <param name="Ignored">Other calls accepted and not stored.</param>
/// <param name="Rejected">Calls refused, by index.</param>
public sealed record SegmentAcceptedDocument(
    [property: System.Text.Json.Serialization.JsonPropertyName("success")] bool Success,
    [property: System.Text.Json.Serialization.JsonPropertyName("accepted")] int Accepted,
    [property: System.Text.Json.Serialization.JsonPropertyName("ignored")] int Ignored,
    [property: System.Text.Json.Serialization.JsonPropertyName("rejected")] RejectionDocument[]? Rejected);

public static class SegmentApi
{
    private const string Statuses = " 200 {\"success\":true,…} once queued (?ack=durable: once stored). 400 when nothing is valid (the SDKs drop it: a resend cannot help); 401 without a producer key as the write key (HTTP Basic user name) when API_KEYS is set; 413 over MAX_BATCH_BYTES, MAX_INFLATED_BYTES or MAX_BATCH_EVENTS; 429 + Retry-After over RATE_LIMIT_PER_KEY; 503 + Retry-After when the queue is full or Hermes is shutting down (both SDKs retry 429 and 5xx).";

    public static IEndpointRouteBuilder MapSegmentApi(this IEndpointRouteBuilder app)
    {
        // As /events: intake traffic is counted by hermes_events_*, not ASP.NET's per-request histogram.
        var segment = app.MapGroup("").WithTags("Segment").DisableHttpMetrics();

        segment.MapPost("/v1/batch", static (HttpContext context, EventIntake intake) => intake.PostSegmentBatchAsync(context))
            .WithName("PostSegmentBatch")
            .WithSummary("Ingest a Segment batch (Segment and RudderStack SDKs)")
            .WithDescription("The Segment tracking API's batch: {\"batch\":[call,…]}, read as JSON whatever the Content-Type, optionally gzip. Each track call is an event (messageId → id, userId or anonymousId → user_id, event → type in snake_case or per SEGMENT_EVENT_MAP, timestamp → timestamp, properties → payload); identify, page, screen, group and alias are accepted, counted and not stored. Invalid calls are listed in 'rejected' while the others are queued." + Statuses)
            .DocumentsBody<SegmentBatchDocument>("application/json")
            .Produces<SegmentAcceptedDocument>(StatusCodes.Status200OK)
            .ProducesIntakeProblems();

        segment.MapPost("/v1/track", static (HttpContext context, EventIntake intake) => intake.PostSegmentTrackAsync(context))
            .WithName("PostSegmentTrack")
            .WithSummary("Ingest one Segment track call")
            .WithDescription("One track call, mapped as in POST /v1/batch." + Statuses)
            .DocumentsBody<SegmentCallDocument>("application/json")
            .Produces<SegmentAcceptedDocument>(StatusCodes.Status200OK)
            .ProducesIntakeProblems();

        return app;
    }
}

using Hermes.Ingest.Events;

namespace Hermes.Ingest.Apis;

/// <summary>The shape of an event, for the OpenAPI document only; intake parses UTF-8 directly.</summary>
/// <param name="Id">Unique id, 1–128 characters; re-sending an id is safe.</param>
/// <param name="UserId">The producer's user, 1–128 characters.</param>
/// <param name="Type">One of the configured types (default trip_started, song_played, ad_clicked, location_update).</param>
/// <param name="Timestamp">Event time as integer Unix seconds; not more than MAX_FUTURE_SKEW ahead of the server.</param>
/// <param name="Payload">Optional JSON object, at most MAX_PAYLOAD_BYTES.</param>
public sealed record EventDocument(
    [property: System.Text.Json.Serialization.JsonPropertyName("id")] string Id,
    [property: System.Text.Json.Serialization.JsonPropertyName("user_id")] string UserId,
    [property: System.Text.Json.Serialization.JsonPropertyName("type")] string Type,
    [property: System.Text.Json.Serialization.JsonPropertyName("timestamp")] long Timestamp,
    [property: System.Text.Json.Serialization.JsonPropertyName("payload")] Dictionary<string, object?>? Payload = null);

/// <summary>Answer to an accepted request.</summary>
/// <param name="Accepted">Events queued.</param>
/// <param name="Rejected">Events of a batch that were refused, by index.</param>
public sealed record AcceptedDocument(
    [property: System.Text.Json.Serialization.JsonPropertyName("accepted")] int Accepted,
    [property: System.Text.Json.Serialization.JsonPropertyName("rejected")] RejectionDocument[]? Rejected);

/// <param name="Index">0-based position in the array, or among the non-blank NDJSON lines.</param>
public sealed record RejectionDocument(
    [property: System.Text.Json.Serialization.JsonPropertyName("index")] int Index,
    [property: System.Text.Json.Serialization.JsonPropertyName("field")] string Field,
    [property: System.Text.Json.Serialization.JsonPropertyName("rule")] string Rule,
    [property: System.Text.Json.Serialization.JsonPropertyName("error")] string Error);

public static class EventsApi
{
    public static IEndpointRouteBuilder MapEventsApi(this IEndpointRouteBuilder app)
    {
        // ASP.NET's per-request http.server.request.duration histogram cost ~20% of a core at 30k requests/s
        // (OTEL_SDK_DISABLED on/off, same load). Ingest traffic is counted by hermes_events_* instead.
        // The group holds no prefix: under MapGroup("/events") the single-event route reads "/events/", which named
        // the endpoint and every request span "POST /events/".
        var events = app.MapGroup("").WithTags("Events").DisableHttpMetrics();

        events.MapPost("/events", static (HttpContext context, EventIntake intake) => intake.PostEventAsync(context))
            .WithName("PostEvent")
            .WithSummary("Ingest one event")
            .WithDescription("Validates one event and queues it. 202 when queued; 400 invalid (the problem names the field and rule); 413 over MAX_EVENT_BYTES; 415 not JSON; 503 + Retry-After when the queue is full or Hermes is shutting down. 401 without a valid key when API_KEYS is set; 429 + Retry-After over RATE_LIMIT_PER_KEY. ?ack=durable: 200 once the event is committed or fsynced to the spill.")
            .DocumentsBody<EventDocument>("application/json")
            .Produces<AcceptedDocument>(StatusCodes.Status202Accepted)
            .Produces<AcceptedDocument>(StatusCodes.Status200OK)
            .ProducesIntakeProblems();

        events.MapPost("/events/batch", static (HttpContext context, EventIntake intake) => intake.PostBatchAsync(context))
            .WithName("PostEventBatch")
            .WithSummary("Ingest a batch of events")
            .WithDescription("A JSON array of events, or NDJSON (Content-Type application/x-ndjson), optionally Content-Encoding: gzip. Valid events are queued even when others are refused; 'rejected' lists the others by index. Either all valid events are queued or none (503 + Retry-After). 400 when no event is valid; 413 over MAX_BATCH_BYTES, MAX_INFLATED_BYTES or MAX_BATCH_EVENTS. 401 without a valid key when API_KEYS is set; 429 + Retry-After over RATE_LIMIT_PER_KEY. ?ack=durable: 200 once every valid event is committed or fsynced to the spill.")
            .DocumentsBody<EventDocument[]>("application/json", "application/x-ndjson")
            .Produces<AcceptedDocument>(StatusCodes.Status202Accepted)
            .Produces<AcceptedDocument>(StatusCodes.Status200OK)
            .ProducesIntakeProblems();

        return app;
    }
}

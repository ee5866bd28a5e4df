namespace Hermes.Ingest.Events;

/// <summary>
/// One validated event, typed the way the sink's binary COPY writes it, so nothing downstream parses JSON again.
/// A struct: the queue and worker buffers hold these inline, so an accepted event costs no object of its own
/// beyond its two id strings and its payload text.
/// </summary>
/// <param name="Id">Producer-chosen id (≤ MaxIdLength chars); the Postgres sink stores each id once.</param>
/// <param name="UserId">Producer's user id.</param>
/// <param name="Type">Index into <see cref="EventTypeCatalog"/>.</param>
/// <param name="Timestamp">Event time, Unix seconds.</param>
/// <param name="Payload">The payload object's JSON text as sent, or null.</param>
/// <param name="ReceivedAtMs">When Hermes accepted it, Unix milliseconds.</param>
/// <param name="Origin">The request's trace and <c>?ack=durable</c> promise, or null when it had neither.</param>
public readonly record struct EventRecord(
    string Id,
    string UserId,
    byte Type,
    long Timestamp,
    string? Payload,
    long ReceivedAtMs,
    EventOrigin? Origin = null)
{
    /// <summary>
    /// When the queue (<c>EventQueue</c>) queued it, in ms on the queue's monotonic clock, cut to 32 bits: the
    /// difference of two such stamps is exact up to 24 days, far beyond any wait in the queue, and an int fits in
    /// this struct's padding (56 B either way; a long would make it 64 B and a queue slot 72 B instead of 64 B).
    /// </summary>
    internal int QueuedAtMs { get; init; }

    /// <summary>Unix second at the start of the event's minute: 1700000000 → 1699999980.</summary>
    public long Minute => Timestamp - (Timestamp % 60);
}

using Microsoft.Extensions.Logging;

namespace Hermes.Client.Diagnostics;

/// <summary>
/// Everything the client logs. Never the API key: it travels only in its header, which the HttpClient logging
/// redacts. Refusals name Hermes's field and rule, as its problem+json does.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Warning, "Hermes refused a batch of {Count} events with {Status} ({Field}/{Rule}): {Title}. {Detail} They are not retried.")]
    public static partial void BatchRefused(ILogger logger, int count, int status, string field, string rule, string? title, string? detail);

    [LoggerMessage(2, LogLevel.Warning, "Hermes refused {Refused} of the {Count} events of a batch and queued the rest; the first refused is event {Id} ('{Field}': {Rule}): {Error}")]
    public static partial void EventsRejected(ILogger logger, int refused, int count, string id, string field, string rule, string? error);

    [LoggerMessage(3, LogLevel.Warning, "The Hermes client buffer is full ({Capacity} events, Hermes:Client:BufferCapacity): new events are dropped until Hermes takes a batch.")]
    public static partial void BufferFull(ILogger logger, int capacity);

    [LoggerMessage(4, LogLevel.Warning, "{Lost} events were not delivered to Hermes within the shutdown deadline ({Timeout}, Hermes:Client:ShutdownTimeout) and are lost.")]
    public static partial void LostAtShutdown(ILogger logger, int lost, TimeSpan timeout);

    [LoggerMessage(5, LogLevel.Error, "Sending a batch of {Count} events failed unexpectedly; the batch is kept and sent again in {Delay}.")]
    public static partial void SendFailed(ILogger logger, int count, TimeSpan delay, Exception exception);

    [LoggerMessage(6, LogLevel.Warning, "Hermes refused a batch of {Count} events as too large ({Status} {Field}/{Rule}); sending it in halves. Set Hermes:Client:MaxBatchEvents (and MaxBatchBytes) within Hermes's MAX_BATCH_EVENTS, MAX_BATCH_BYTES and RATE_LIMIT_BURST.")]
    public static partial void SplittingBatch(ILogger logger, int count, int status, string field, string rule);

    [LoggerMessage(7, LogLevel.Information, "Hermes is taking batches again after {Outage}; {Buffered} events are buffered.")]
    public static partial void Recovered(ILogger logger, TimeSpan outage, int buffered);

    [LoggerMessage(8, LogLevel.Information, "Hermes client sending to {Endpoint} in batches of up to {MaxBatchEvents} events every {FlushInterval} (durable: {Durable}); buffer {Capacity} events.")]
    public static partial void Started(ILogger logger, string endpoint, int maxBatchEvents, TimeSpan flushInterval, bool durable, int capacity);
}

namespace Hermes.Client;

/// <summary>What a <see cref="HermesClient"/> has done with the events given to it (also published as metrics).</summary>
/// <param name="Tracked">Events <c>Track</c> put in the buffer.</param>
/// <param name="Sent">Events Hermes accepted (<c>202</c>, or <c>200</c> with <c>DurableAck</c>).</param>
/// <param name="Refused">Events Hermes refused with a 4xx (an invalid event, a wrong key): logged with the problem's field and rule, never retried.</param>
/// <param name="DroppedBufferFull"><c>Track</c> calls dropped because the buffer was full.</param>
/// <param name="DroppedAfterClose"><c>Track</c> calls dropped because the client had begun shutting down.</param>
/// <param name="Lost">Buffered events not delivered before the shutdown deadline.</param>
/// <param name="Buffered">Events in the buffer now.</param>
/// <param name="InFlight">Events in batches being sent now.</param>
public readonly record struct HermesClientStatistics(
    long Tracked, long Sent, long Refused, long DroppedBufferFull, long DroppedAfterClose, long Lost, int Buffered, int InFlight);

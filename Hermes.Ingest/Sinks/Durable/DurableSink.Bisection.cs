using Hermes.Ingest.Events;

namespace Hermes.Ingest.Sinks.Durable;

/// <summary>A batch refused for its data: split until the bad events stand alone, and dead-letter each of them.</summary>
public sealed partial class DurableSink
{
    /// <summary>Writes one batch; a deadlock between two writes is tried again at once, up to this many attempts.</summary>
    private const int ConflictAttempts = 5;

    /// <summary>
    /// Writes the batch; if the destination refuses it for its data, bisects until the bad events stand alone, so the
    /// good ones land and each bad one is dead-lettered. k bad events in n cost about 2·k·log2(n) extra writes.
    /// </summary>
    private async Task WriteSplittingAsync(ReadOnlyMemory<EventRecord> batch, IReadOnlyList<string> typeNames, WriteContext context, RefusedEvents refused, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var started = _time.GetTimestamp();
                var inserted = await _writer.WriteAsync(batch, typeNames, context, cancellationToken);
                _metrics.OnWritten(batch.Length, inserted, _time.GetElapsedTime(started));
                return;
            }
            catch (Exception ex) when (attempt < ConflictAttempts && IsFailure(ex, WriteFailure.Conflict, cancellationToken))
            {
                // A deadlock or serialization failure between two writes: nothing was written; go again.
            }
            catch (Exception ex) when (IsFailure(ex, WriteFailure.Data, cancellationToken))
            {
                _metrics.OnWriteFailed(WriteFailureClass.Data);
                if (batch.Length == 1)
                {
                    await DeadLetterAsync(batch.Span[0], typeNames, ex, refused, cancellationToken);
                    return;
                }

                var half = batch.Length / 2;
                await WriteSplittingAsync(batch[..half], typeNames, context, refused, cancellationToken);
                await WriteSplittingAsync(batch[half..], typeNames, context, refused, cancellationToken);
                return;
            }
        }
    }

    private async Task DeadLetterAsync(EventRecord e, IReadOnlyList<string> typeNames, Exception error, RefusedEvents refused, CancellationToken cancellationToken)
    {
        try
        {
            await _writer.DeadLetterAsync(e, typeNames, error, cancellationToken);
            _metrics.OnDeadLettered();
            LogDeadLettered(_logger, e.Id, _writer.Describe(error));
        }
        catch (Exception ex) when (ex is NotSupportedException || IsFailure(ex, WriteFailure.Data, cancellationToken))
        {
            _metrics.OnDropped(DropReason.DeadLetterRefused, 1);
            refused.Count++;
            LogDeadLetterRefused(_logger, ex, e.Id, Name);
        }
    }

    /// <summary>The writer classifies the failure so; a cancellation of the write itself is never one.</summary>
    private bool IsFailure(Exception exception, WriteFailure kind, CancellationToken cancellationToken) =>
        !(exception is OperationCanceledException && cancellationToken.IsCancellationRequested) && _writer.Classify(exception) == kind;

    /// <summary>Events of one write that the destination refused, dead letter included: lost, so reported.</summary>
    internal sealed class RefusedEvents
    {
        public int Count { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event {Id} dead-lettered: {Error}")]
    private static partial void LogDeadLettered(ILogger logger, string id, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "The {Sink} sink refused even the dead letter of event {Id}; it is dropped")]
    private static partial void LogDeadLetterRefused(ILogger logger, Exception exception, string id, string sink);
}

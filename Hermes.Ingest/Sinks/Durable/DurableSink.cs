using System.Collections.Concurrent;
using System.Diagnostics;
using Hermes.Contracts;
using Hermes.Ingest.Events;
using Polly.CircuitBreaker;

namespace Hermes.Ingest.Sinks.Durable;

/// <summary>
/// A durable sink around any <see cref="IBatchWriter"/>: each batch is written through the <see cref="WriteBreaker"/>
/// within DB_WRITE_TIMEOUT, or, when the destination cannot take it, fsynced to the <see cref="SpillStore"/> for
/// <see cref="SpillReplayer"/> to write later. So <see cref="WriteAsync"/> completes only once the batch is durable
/// (written or fsynced), and throws <see cref="BatchDroppedException"/> only when the spill is full too. A batch
/// refused for its data is split until the bad events stand alone (<c>DurableSink.Bisection.cs</c>).
/// </summary>
public sealed partial class DurableSink : IEventSink
{
    private readonly IBatchWriter _writer;
    private readonly WriteBreaker _breaker;
    private readonly SpillStore _spill;
    private readonly RunLedger _ledger;
    private readonly DurableSinkMetrics _metrics;
    private readonly EventTypeCatalog _types;
    private readonly DurableSinkOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<DurableSink> _logger;

    // The writer's concurrency bound (PostgreSQL: MAX_OPEN_CONNS, also its pool size, so a write never waits inside
    // Npgsql), and one slot number per write in flight (PostgreSQL: its rollup shard).
    private readonly SemaphoreSlim _writes;
    private readonly ConcurrentStack<short> _slots;
    private readonly SemaphoreSlim _replayWanted = new(0, 1);

    public DurableSink(IBatchWriter writer, WriteBreaker breaker, SpillStore spill, RunLedger ledger, DurableSinkMetrics metrics,
        EventTypeCatalog types, DurableSinkOptions options, TimeProvider time, ILogger<DurableSink> logger)
    {
        _writer = writer;
        _breaker = breaker;
        _spill = spill;
        _ledger = ledger;
        _metrics = metrics;
        _types = types;
        _options = options;
        _time = time;
        _logger = logger;
        _writes = new SemaphoreSlim(writer.MaxConcurrentWrites, writer.MaxConcurrentWrites);
        _slots = new([.. Enumerable.Range(0, writer.MaxConcurrentWrites).Select(i => (short)i).Reverse()]);
    }

    public string Name => _writer.Name;

    public bool IsDurable => true;

    public async ValueTask WriteAsync(ReadOnlyMemory<EventRecord> batch, CancellationToken cancellationToken)
    {
        var refused = new RefusedEvents();
        if (await TryWriteAsync(batch, _types.Names, replaying: false, cancellationToken, refused))
        {
            if (refused.Count > 0)
            {
                // The rest of the batch is written; these events are gone (not even dead-lettered), so the batch's
                // durable requests must not be told their events are stored.
                throw new BatchDroppedException(refused.Count, "the destination refused them and their dead letters");
            }

            if (!_spill.IsEmpty)
            {
                WakeReplayer();
            }

            return;
        }

        if (!await _spill.AppendAsync(batch, _types.Names, cancellationToken))
        {
            throw new BatchDroppedException(batch.Length, _spill.IsFull ? $"the {Name} sink is unavailable and the spill is full" : $"the {Name} sink is unavailable and the spill could not be written");
        }

        WakeReplayer();
    }

    /// <summary>
    /// Called once the workers have drained: every batch is already written or fsynced, so close the spill's open
    /// segment, and mark the run ledger clean if everything answered 202 was stored.
    /// </summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        await _spill.FlushAsync(cancellationToken);
        _ledger.Close();
    }

    public SinkStats Describe() => new()
    {
        Name = Name,
        Durable = true,
        Circuit = _breaker.State switch { WriteBreaker.Open => "open", WriteBreaker.HalfOpen => "half-open", _ => "closed" },
        RowsWritten = _metrics.RowsWritten,
        SpillBytes = _metrics.SpillBytes,
        SpillEvents = _metrics.SpillEvents,
        DeadLetters = _metrics.DeadLetters,
        Dropped = Enum.GetValues<DropReason>().Sum(_metrics.Dropped),
        Storage = _writer.Storage,
    };

    public PreviousRunStats? PreviousRun => _ledger.Previous is { } previous
        ? new() { Clean = false, Pid = previous.Pid, CheckpointAt = previous.CheckpointAt.ToUnixTimeMilliseconds(), AtRiskEvents = previous.AtRisk, Runs = previous.Runs }
        : null;

    /// <summary>Tries the destination once, through the breaker. False: not written (count and reason recorded).</summary>
    internal async Task<bool> TryWriteAsync(ReadOnlyMemory<EventRecord> batch, IReadOnlyList<string> typeNames, bool replaying, CancellationToken cancellationToken,
        RefusedEvents? refused = null)
    {
        try
        {
            await _breaker.ExecuteAsync(
                static (state, ct) => state.Sink.WriteGuardedAsync(state.Batch, state.Names, state.Replaying, state.Refused, ct),
                new WriteState(this, batch, typeNames, replaying, refused ?? new RefusedEvents()),
                cancellationToken);
            return true;
        }
        catch (BrokenCircuitException)
        {
            if (!replaying)
            {
                _metrics.OnOpenReject();
            }

            return false;
        }
        catch (Exception ex) when (_breaker.IsConnectivityFailure(ex))
        {
            _metrics.OnWriteFailed(WriteBreaker.IsTimeout(ex) ? WriteFailureClass.Timeout : WriteFailureClass.Connectivity);
            LogWriteFailed(_logger, ex.Message, batch.Length, Name, replaying);
            return false;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Not the destination's reachability and not the rows' data (those were split out and dead-lettered):
            // a missing table, a permission... Spilling keeps the batch until someone fixes it.
            _metrics.OnWriteFailed(WriteFailureClass.Other);
            LogWriteFailedOther(_logger, ex, batch.Length, Name);
            return false;
        }
    }

    /// <summary>Waits until a batch was spilled or written while the spill held data, or the timeout passes.</summary>
    internal async Task WaitForReplayWorkAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        await _replayWanted.WaitAsync(timeout, cancellationToken);

    private void WakeReplayer()
    {
        if (_replayWanted.CurrentCount == 0)
        {
            try
            {
                _replayWanted.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another writer woke it first.
            }
        }
    }

    /// <summary>One write in a slot of its own, within DB_WRITE_TIMEOUT (counted from when the slot is taken).</summary>
    private async ValueTask WriteGuardedAsync(ReadOnlyMemory<EventRecord> batch, IReadOnlyList<string> typeNames, bool replaying, RefusedEvents refused, CancellationToken cancellationToken)
    {
        await _writes.WaitAsync(cancellationToken);
        var popped = _slots.TryPop(out var slot);
        Debug.Assert(popped, "the semaphore admits no more writes than there are slots");
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.WriteTimeout);
            try
            {
                await WriteSplittingAsync(batch, typeNames, new WriteContext(slot, replaying), refused, timeout.Token);
            }
            catch (OperationCanceledException ex) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"Writing {batch.Length} events took longer than DB_WRITE_TIMEOUT ({_options.WriteTimeout.TotalSeconds} s).", ex);
            }
        }
        finally
        {
            _slots.Push(slot);
            _writes.Release();
        }
    }

    private readonly record struct WriteState(DurableSink Sink, ReadOnlyMemory<EventRecord> Batch, IReadOnlyList<string> Names, bool Replaying, RefusedEvents Refused);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Write of {Count} events to the {Sink} sink failed ({Reason}); replaying: {Replaying}. The batch stays in the spill")]
    private static partial void LogWriteFailed(ILogger logger, string reason, int count, string sink, bool replaying);

    [LoggerMessage(Level = LogLevel.Error, Message = "Write of {Count} events to the {Sink} sink failed; the batch goes to the spill and is retried")]
    private static partial void LogWriteFailedOther(ILogger logger, Exception exception, int count, string sink);
}

using System.Diagnostics;
using Hermes.Ingest.Events;
using Hermes.Ingest.Sinks.Spill;
using Npgsql;
using Polly.CircuitBreaker;

namespace Hermes.Ingest.Sinks.Postgres;

/// <summary>
/// The durable sink: each batch is committed to PostgreSQL (<see cref="EventBatchWriter"/>) through the
/// <see cref="DatabaseBreaker"/>, or, when the database cannot take it, fsynced to the <see cref="SpillStore"/> for
/// <see cref="SpillReplayer"/> to write later. So <see cref="WriteAsync"/> completes only once the batch is durable
/// (committed or fsynced), and throws <see cref="BatchDroppedException"/> only when the spill is full too.
/// </summary>
public sealed partial class PostgresSink : IEventSink
{
    private readonly EventBatchWriter _writer;
    private readonly PostgresSchema _schema;
    private readonly DatabaseBreaker _breaker;
    private readonly SpillStore _spill;
    private readonly PostgresSinkMetrics _metrics;
    private readonly EventTypeCatalog _types;
    private readonly PostgresSinkOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<PostgresSink> _logger;

    // MAX_OPEN_CONNS bounds the COPYs in flight; the pool has the same size, so a writer never waits inside Npgsql.
    private readonly SemaphoreSlim _writers;

    // One rollup shard per writer slot; a writer holds its slot for the whole write (see event_rollup_shards).
    private readonly System.Collections.Concurrent.ConcurrentStack<short> _shards;
    private readonly SemaphoreSlim _replayWanted = new(0, 1);

    public PostgresSink(EventBatchWriter writer, PostgresSchema schema, DatabaseBreaker breaker, SpillStore spill, PostgresSinkMetrics metrics,
        EventTypeCatalog types, PostgresSinkOptions options, TimeProvider time, ILogger<PostgresSink> logger)
    {
        _writer = writer;
        _schema = schema;
        _breaker = breaker;
        _spill = spill;
        _metrics = metrics;
        _types = types;
        _options = options;
        _time = time;
        _logger = logger;
        _writers = new SemaphoreSlim(options.MaxOpenConns, options.MaxOpenConns);
        _shards = new([.. Enumerable.Range(0, options.MaxOpenConns).Select(i => (short)i).Reverse()]);
    }

    public string Name => "postgres";

    public bool IsDurable => true;

    public async ValueTask WriteAsync(ReadOnlyMemory<EventRecord> batch, CancellationToken cancellationToken)
    {
        var refused = new RefusedRows();
        if (await TryWriteAsync(batch, _types.Names, replaying: false, cancellationToken, refused))
        {
            if (refused.Count > 0)
            {
                // The rest of the batch is committed; these rows are gone (not even dead-lettered), so the batch's
                // durable requests must not be told their events are stored.
                throw new BatchDroppedException(refused.Count, "the database refused them and their dead-letter rows");
            }

            if (!_spill.IsEmpty)
            {
                WakeReplayer();
            }

            return;
        }

        if (!await _spill.AppendAsync(batch, _types.Names, cancellationToken))
        {
            throw new BatchDroppedException(batch.Length, _spill.IsFull ? "the database is unavailable and the spill is full" : "the database is unavailable and the spill could not be written");
        }

        WakeReplayer();
    }

    /// <summary>Every batch is already committed or fsynced when its write returns; close the spill's open segment.</summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken) => await _spill.FlushAsync(cancellationToken);

    /// <summary>Tries the database once, through the breaker. False: not written (count and reason recorded).</summary>
    public async Task<bool> TryWriteAsync(ReadOnlyMemory<EventRecord> batch, IReadOnlyList<string> typeNames, bool replaying, CancellationToken cancellationToken,
        RefusedRows? refused = null)
    {
        try
        {
            await _breaker.ExecuteAsync(
                static (state, ct) => state.Sink.WriteGuardedAsync(state.Batch, state.Names, state.Replaying, state.Refused, ct),
                new WriteState(this, batch, typeNames, replaying, refused ?? new RefusedRows()),
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
        catch (Exception ex) when (DatabaseBreaker.IsConnectivityFailure(ex))
        {
            _metrics.OnWriteFailed(IsTimeout(ex) ? WriteFailureClass.Timeout : WriteFailureClass.Connectivity);
            LogWriteFailed(_logger, ex.Message, batch.Length, replaying);
            return false;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Not the server's reachability and not the rows' data (those were split out and dead-lettered):
            // a missing table, a permission... Spilling keeps the batch until someone fixes it.
            _metrics.OnWriteFailed(WriteFailureClass.Other);
            LogWriteFailedOther(_logger, ex, batch.Length);
            return false;
        }
    }

    /// <summary>Waits until a batch was spilled or written while the spill held data, or the timeout passes.</summary>
    public async Task WaitForReplayWorkAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        await _replayWanted.WaitAsync(timeout, cancellationToken);

    /// <summary>Creates or migrates the schema if it is not yet; false (logged) when the database is unreachable.</summary>
    public async Task<bool> TryPrepareAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _schema.EnsureAsync(cancellationToken);
            return true;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            LogSchemaDeferred(_logger, ex.Message);
            return false;
        }
    }

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

    private async ValueTask WriteGuardedAsync(ReadOnlyMemory<EventRecord> batch, IReadOnlyList<string> typeNames, bool replaying, RefusedRows refused, CancellationToken cancellationToken)
    {
        await _writers.WaitAsync(cancellationToken);
        var popped = _shards.TryPop(out var shard);
        Debug.Assert(popped, "the semaphore admits no more writers than there are shards");
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.WriteTimeout);
            try
            {
                await _schema.EnsureAsync(timeout.Token);
                await WriteSplittingAsync(batch, typeNames, shard, replaying, refused, timeout.Token);
            }
            catch (OperationCanceledException ex) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"Writing {batch.Length} events took longer than DB_WRITE_TIMEOUT ({_options.WriteTimeout.TotalSeconds} s).", ex);
            }
        }
        finally
        {
            _shards.Push(shard);
            _writers.Release();
        }
    }

    /// <summary>
    /// Writes the batch; if the server refuses it for its data, bisects until the bad rows stand alone, so the good
    /// ones land and each bad one is dead-lettered. k bad rows in n cost about 2·k·log2(n) extra transactions.
    /// </summary>
    private async Task WriteSplittingAsync(ReadOnlyMemory<EventRecord> batch, IReadOnlyList<string> typeNames, short shard, bool replaying, RefusedRows refused, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var started = _time.GetTimestamp();
                var inserted = await _writer.WriteAsync(batch, typeNames, shard, replaying, cancellationToken);
                _metrics.OnCommitted(batch.Length, inserted, _time.GetElapsedTime(started));
                return;
            }
            catch (PostgresException ex) when (DatabaseBreaker.IsRetryableConflict(ex) && attempt < 5)
            {
                // Deadlock or serialization failure between two writers: the transaction was rolled back; go again.
            }
            catch (PostgresException ex) when (DatabaseBreaker.IsDataError(ex))
            {
                _metrics.OnWriteFailed(WriteFailureClass.Data);
                if (batch.Length == 1)
                {
                    await DeadLetterAsync(batch.Span[0], typeNames, ex, refused, cancellationToken);
                    return;
                }

                var half = batch.Length / 2;
                await WriteSplittingAsync(batch[..half], typeNames, shard, replaying, refused, cancellationToken);
                await WriteSplittingAsync(batch[half..], typeNames, shard, replaying, refused, cancellationToken);
                return;
            }
        }
    }

    private async Task DeadLetterAsync(EventRecord e, IReadOnlyList<string> typeNames, PostgresException error, RefusedRows refused, CancellationToken cancellationToken)
    {
        try
        {
            await _writer.DeadLetterAsync(e, typeNames, error, cancellationToken);
            _metrics.OnDeadLettered();
            LogDeadLettered(_logger, e.Id, error.SqlState, error.MessageText);
        }
        catch (PostgresException ex) when (DatabaseBreaker.IsDataError(ex))
        {
            _metrics.OnDropped(DropReason.DeadLetterRefused, 1);
            refused.Count++;
            LogDeadLetterRefused(_logger, ex, e.Id);
        }
    }

    private static bool IsTimeout(Exception ex) => ex is TimeoutException || ex.InnerException is TimeoutException;

    private readonly record struct WriteState(PostgresSink Sink, ReadOnlyMemory<EventRecord> Batch, IReadOnlyList<string> Names, bool Replaying, RefusedRows Refused);

    /// <summary>Rows of one write that the database refused, dead-letter row included: lost, so reported.</summary>
    public sealed class RefusedRows
    {
        public int Count { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Database write of {Count} events failed ({Reason}); replaying: {Replaying}. The batch stays in the spill")]
    private static partial void LogWriteFailed(ILogger logger, string reason, int count, bool replaying);

    [LoggerMessage(Level = LogLevel.Error, Message = "Database write of {Count} events failed; the batch goes to the spill and is retried")]
    private static partial void LogWriteFailedOther(ILogger logger, Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event {Id} dead-lettered: {SqlState} {Error}")]
    private static partial void LogDeadLettered(ILogger logger, string id, string sqlState, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "The database refused even the dead-letter row of event {Id}; it is dropped")]
    private static partial void LogDeadLetterRefused(ILogger logger, Exception exception, string id);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Database not reachable at startup ({Reason}); the schema will be created on the first successful write, batches spill until then")]
    private static partial void LogSchemaDeferred(ILogger logger, string reason);
}

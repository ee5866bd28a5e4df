using System.Net.Sockets;
using Hermes.Contracts;
using Hermes.Ingest.Configuration;
using Hermes.Ingest.Events;
using Hermes.Ingest.Sinks.Durable;
using Npgsql;

namespace Hermes.Ingest.Sinks.Postgres;

/// <summary>
/// PostgreSQL as a destination of the durable layer: makes the schema (<see cref="PostgresSchema"/>), writes a batch
/// in one transaction (<see cref="EventBatchWriter"/>: binary COPY, or the insert path for duplicates), stores dead
/// letters in <c>dead_letters</c>, and says which errors are the server's reachability, the rows' data, or a deadlock.
/// </summary>
public sealed partial class PostgresBatchWriter(PostgresSchema schema, EventBatchWriter writer, PostgresSinkOptions options, PostgresSinkMetrics metrics,
    ILogger<PostgresBatchWriter> logger) : IBatchWriter
{
    public string Name => "postgres";

    /// <summary>MAX_OPEN_CONNS: the pool has the same size, so a write never waits inside Npgsql.</summary>
    public int MaxConcurrentWrites => options.MaxOpenConns;

    /// <summary>Creates or migrates the schema if it is not yet; false (logged) when the database is unreachable.</summary>
    public async Task<bool> TryPrepareAsync(CancellationToken cancellationToken)
    {
        try
        {
            await schema.EnsureAsync(cancellationToken);
            return true;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or SocketException)
        {
            LogSchemaDeferred(logger, ex.Message);
            return false;
        }
    }

    /// <summary>The slot is the writer's shard of <c>event_rollup_shards</c>: no two concurrent writes share one.</summary>
    public async Task<long> WriteAsync(ReadOnlyMemory<EventRecord> batch, IReadOnlyList<string> typeNames, WriteContext context, CancellationToken cancellationToken)
    {
        await schema.EnsureAsync(cancellationToken);
        return await writer.WriteAsync(batch, typeNames, context.Slot, context.Replaying, cancellationToken);
    }

    public WriteFailure Classify(Exception exception) => ClassifyError(exception);

    /// <summary>
    /// Class 22 (data exception) and 23 (integrity constraint) are the rows' data, except a missing partition (also
    /// 23514), which is about the table. A deadlock or serialization failure is a conflict. A transient server error,
    /// a broken socket or a timeout is reachability.
    /// </summary>
    public static WriteFailure ClassifyError(Exception exception) => exception switch
    {
        PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure } => WriteFailure.Conflict,
        PostgresException { SqlState: [('2'), ('2' or '3'), ..] } pg when !EventBatchWriter.IsMissingPartition(pg) => WriteFailure.Data,
        PostgresException pg => pg.IsTransient ? WriteFailure.Connectivity : WriteFailure.Other,
        NpgsqlException npgsql when npgsql.IsTransient || npgsql.InnerException is SocketException or IOException or TimeoutException => WriteFailure.Connectivity,
        SocketException or TimeoutException => WriteFailure.Connectivity,
        _ => WriteFailure.Other,
    };

    /// <summary>Only a <see cref="PostgresException"/> is ever classified <see cref="WriteFailure.Data"/>.</summary>
    public async Task DeadLetterAsync(EventRecord refused, IReadOnlyList<string> typeNames, Exception error, CancellationToken cancellationToken) =>
        await writer.DeadLetterAsync(refused, typeNames, error as PostgresException ?? throw new ArgumentException("Not a refusal by the server.", nameof(error), error), cancellationToken);

    public string Describe(Exception error) => error is PostgresException pg ? $"{pg.SqlState} {pg.MessageText}" : error.Message;

    /// <summary>Time partitions per table and what retention has removed since this instance started.</summary>
    public StorageStats Storage => new()
    {
        PartitionInterval = GoDuration.Format(options.PartitionInterval),
        Partitions = PartitionedTable.All.ToDictionary(t => t.Name, metrics.Partitions, StringComparer.Ordinal),
        Retention = new()
        {
            Events = options.EventRetention > TimeSpan.Zero ? GoDuration.Format(options.EventRetention) : "keep",
            Rollups = options.RollupRetention > TimeSpan.Zero ? GoDuration.Format(options.RollupRetention) : "keep",
            DroppedPartitions = PartitionedTable.All.ToDictionary(t => t.Name, metrics.PartitionsDropped, StringComparer.Ordinal),
            DroppedEvents = metrics.RetentionEventsDropped,
        },
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Database not reachable at startup ({Reason}); the schema will be created on the first successful write, batches spill until then")]
    private static partial void LogSchemaDeferred(ILogger logger, string reason);
}

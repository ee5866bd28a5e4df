using System.Buffers;
using System.Diagnostics;
using Hermes.Ingest.Events;
using Hermes.Ingest.Telemetry;
using Npgsql;
using NpgsqlTypes;

namespace Hermes.Ingest.Sinks.Postgres;

/// <summary>
/// Writes one batch in one transaction, each event ((ts, id): the same id and timestamp) stored once and counted
/// once in <c>event_rollups</c>, after making sure every partition it needs exists (<see cref="EventPartitions"/>).
/// <para>
/// Full batches take the fast path: binary COPY straight into <c>events</c>, then one upsert of the batch's
/// per-minute counts (computed here) into the writer's shard of <c>event_rollup_shards</c>. Every row was inserted,
/// so the counts are exact. If an event is already stored (a client retry), the key fails the COPY (23505) and
/// nothing of it remains; the batch then takes the insert path: one <c>INSERT … SELECT FROM unnest(…) ON CONFLICT
/// DO NOTHING</c> that feeds only the rows it inserted to the rollups. Small batches and replays from the spill,
/// where duplicates are likely or the COPY's advantage is nothing, take the insert path at once.
/// </para>
/// <para>
/// Why not check first or always insert: on this 2-core box, random UUIDv4 ids into today's partition, 2 writers ×
/// 1,000-row batches (bench/RawCopy <c>--mode</c>), COPY committed 131k rows/s, the insert path 91k, a look-up of
/// the batch's keys before each COPY 71k and COPY into a temp table then insert 71k. A duplicate is rare next to
/// full batches, so it pays for its failed COPY rather than every batch paying for the check.
/// </para>
/// </summary>
public sealed class EventBatchWriter(NpgsqlDataSource dataSource, EventPartitions partitions, PostgresSinkOptions options)
{
    /// <summary>Below this many rows a batch skips the COPY: its cost is per round trip, not per row, there.</summary>
    public const int CopyMinRows = 256;

    private const string CopyEventsSql = "COPY events " + CopyBinaryFormat.Columns + " FROM STDIN (FORMAT BINARY)";

    /// <summary>Bytes per write to the COPY stream: a few socket sends, and 1 ms of encoding, at a time.</summary>
    private const int CopyChunkBytes = 64 * 1024;

    // $4 is the writer's shard (see event_rollup_shards): no two concurrent writers of this instance share one,
    // so none waits for another's commit on the current minute's rows.
    private const string AddCountsSql =
        """
        INSERT INTO event_rollup_shards AS r (type, minute, shard, count)
        SELECT t, m, $4, c FROM unnest($1::text[], $2::timestamptz[], $3::bigint[]) AS u(t, m, c)
        ON CONFLICT (type, minute, shard) DO UPDATE SET count = r.count + EXCLUDED.count
        """;

    // date_trunc in UTC: in the session's zone, a historical offset with seconds (LMT) would move the minute.
    // Payloads travel as text[] and are cast here: as a jsonb[] parameter, a payload PostgreSQL refuses fails the
    // Bind of an auto-prepared statement, after which Npgsql 10.0.3 misreads the connection's next result ("Received
    // unexpected backend message DataRow"); refused while executing, the error is an ordinary one.
    private const string InsertSkippingStoredSql =
        """
        WITH inserted AS (
            INSERT INTO events (id, user_id, type, ts, payload, received_at)
            SELECT id, user_id, type, ts, payload::jsonb, received_at
            FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::timestamptz[])
                AS u(id, user_id, type, ts, payload, received_at)
            ON CONFLICT (ts, id) DO NOTHING
            RETURNING type, ts
        ), rolled AS (
            INSERT INTO event_rollup_shards AS r (type, minute, shard, count)
            SELECT type, date_trunc('minute', ts, 'UTC'), $7, count(*) FROM inserted GROUP BY 1, 2
            ON CONFLICT (type, minute, shard) DO UPDATE SET count = r.count + EXCLUDED.count
        )
        SELECT count(*) FROM inserted
        """;

    private const string DeadLetterSql =
        """
        INSERT INTO dead_letters (id, user_id, type, ts, payload, received_at, error, sqlstate)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (ts, id) DO NOTHING
        """;

    /// <returns>How many rows were new (the rest were events already stored).</returns>
    /// <param name="shard">The caller's writer slot: unique among this instance's concurrent writes.</param>
    /// <param name="replaying">A batch from the spill: some of it may have been committed before its write failed.</param>
    public async Task<long> WriteAsync(ReadOnlyMemory<EventRecord> batch, IReadOnlyList<string> typeNames, short shard, bool replaying, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            await partitions.EnsureCoveredAsync(batch, cancellationToken);
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
                if (!replaying && batch.Length >= CopyMinRows && await TryCopyAsync(connection, batch, typeNames, shard, cancellationToken))
                {
                    return batch.Length;
                }

                return await InsertSkippingStoredAsync(connection, batch, typeNames, shard, cancellationToken);
            }
            catch (PostgresException ex) when (IsMissingPartition(ex) && attempt == 1)
            {
                // Another instance's retention dropped a partition this one still had cached: read the catalog again.
                partitions.Invalidate();
            }
        }
    }

    /// <summary>"no partition of relation … found for row": the class-23 error that is about the table, not the row.</summary>
    public static bool IsMissingPartition(PostgresException ex) =>
        ex.SqlState == PostgresErrorCodes.CheckViolation && ex.Routine == "ExecFindPartition";

    /// <summary>The fast path; false (rolled back, no error recorded) when an event of the batch is already stored.</summary>
    private async Task<bool> TryCopyAsync(NpgsqlConnection connection, ReadOnlyMemory<EventRecord> batch, IReadOnlyList<string> typeNames, short shard, CancellationToken cancellationToken)
    {
        // Hermes's own span for the COPY, in place of Npgsql's (filtered out in PostgresSinkExtensions): a stored
        // event sent again is normal, so its failed COPY must not show as an error in the trace.
        using var activity = IngestTracing.Source.StartActivity("COPY events", ActivityKind.Client);
        activity?.SetTag("db.system.name", "postgresql");
        activity?.SetTag("db.operation.name", "COPY");
        activity?.SetTag("db.collection.name", "events");
        activity?.SetTag("hermes.batch.size", batch.Length);
        try
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await CopyAsync(connection, CopyEventsSql, batch, typeNames, cancellationToken);

            var (types, minutes, counts) = CountPerMinute(batch.Span, typeNames);
            await using (var add = new NpgsqlCommand(AddCountsSql, connection, transaction))
            {
                add.Parameters.Add(new() { Value = types });
                add.Parameters.Add(new() { Value = minutes, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
                add.Parameters.Add(new() { Value = counts });
                add.Parameters.Add(new() { Value = shard });
                await add.ExecuteNonQueryAsync(cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            return true;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            activity?.SetTag("hermes.copy.outcome", "already-stored");
            activity?.AddEvent(new("An event of the batch is already stored; the batch is inserted skipping stored events"));
            return false;
        }
        catch (Exception ex) when (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, ex.Message);
            throw;
        }
    }

    private static async Task<long> InsertSkippingStoredAsync(NpgsqlConnection connection, ReadOnlyMemory<EventRecord> batch, IReadOnlyList<string> typeNames, short shard, CancellationToken cancellationToken)
    {
        var rows = batch.Span;
        var ids = new string[rows.Length];
        var users = new string[rows.Length];
        var types = new string[rows.Length];
        var stamps = new DateTime[rows.Length];
        var payloads = new string?[rows.Length];
        var received = new DateTime[rows.Length];
        for (var i = 0; i < rows.Length; i++)
        {
            ref readonly var e = ref rows[i];
            (ids[i], users[i], types[i], payloads[i]) = (e.Id, e.UserId, typeNames[e.Type], e.Payload);
            stamps[i] = DateTime.UnixEpoch.AddSeconds(e.Timestamp);
            received[i] = DateTime.UnixEpoch.AddMilliseconds(e.ReceivedAtMs);
        }

        await using var insert = new NpgsqlCommand(InsertSkippingStoredSql, connection);
        insert.Parameters.Add(new() { Value = ids });
        insert.Parameters.Add(new() { Value = users });
        insert.Parameters.Add(new() { Value = types });
        insert.Parameters.Add(new() { Value = stamps, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        insert.Parameters.Add(new() { Value = payloads, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = received, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        insert.Parameters.Add(new() { Value = shard });
        return (long)(await insert.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// Streams the batch as binary COPY rows (<see cref="CopyBinaryFormat"/>) in 64 KB writes. The COPY completes
    /// when the stream is disposed, which is when the server's verdict (a duplicate key…) arrives as an exception.
    /// </summary>
    private async Task CopyAsync(NpgsqlConnection connection, string copySql, ReadOnlyMemory<EventRecord> batch, IReadOnlyList<string> typeNames, CancellationToken cancellationToken)
    {
        await using var copy = await connection.BeginRawBinaryCopyAsync(copySql, cancellationToken);

        // Bounds each write too: a stalled server fails it as a timeout instead of holding the writer.
        copy.WriteTimeout = (int)options.Durable.WriteTimeout.TotalMilliseconds;
        var buffer = ArrayPool<byte>.Shared.Rent(CopyChunkBytes);
        try
        {
            CopyBinaryFormat.Header.CopyTo(buffer);
            var used = CopyBinaryFormat.Header.Length;
            for (var next = 0; next < batch.Length;)
            {
                used = Encode(batch.Span, typeNames, ref next, ref buffer, used);
                if (next < batch.Length)
                {
                    await copy.WriteAsync(buffer.AsMemory(0, used), cancellationToken);
                    used = 0;
                }
            }

            CopyBinaryFormat.Trailer.CopyTo(buffer.AsSpan(used));
            await copy.WriteAsync(buffer.AsMemory(0, used + CopyBinaryFormat.Trailer.Length), cancellationToken);
        }
        catch
        {
            await copy.CancelAsync();
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Encodes rows from <paramref name="next"/> on while they fit; grows the buffer for a row bigger than all of it.</summary>
    /// <returns>The bytes now used in the buffer.</returns>
    private static int Encode(ReadOnlySpan<EventRecord> batch, IReadOnlyList<string> typeNames, ref int next, ref byte[] buffer, int used)
    {
        for (; next < batch.Length; next++)
        {
            ref readonly var e = ref batch[next];
            var type = typeNames[e.Type];
            var need = CopyBinaryFormat.MaxRowBytes(e, type) + CopyBinaryFormat.Trailer.Length;
            if (need > buffer.Length - used)
            {
                if (used > 0)
                {
                    return used;
                }

                // A payload near MAX_PAYLOAD_BYTES: one row alone needs more than a chunk.
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = ArrayPool<byte>.Shared.Rent(need);
            }

            used += CopyBinaryFormat.WriteRow(e, type, buffer.AsSpan(used));
        }

        return used;
    }

    /// <summary>The batch's counts per (type, minute): a handful of entries, since a batch spans a few seconds.</summary>
    private static (string[] Types, DateTime[] Minutes, long[] Counts) CountPerMinute(ReadOnlySpan<EventRecord> batch, IReadOnlyList<string> typeNames)
    {
        var counts = new Dictionary<(byte Type, long Minute), long>();
        foreach (ref readonly var e in batch)
        {
            System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(counts, (e.Type, e.Minute), out _)++;
        }

        var types = new string[counts.Count];
        var minutes = new DateTime[counts.Count];
        var values = new long[counts.Count];
        var i = 0;
        foreach (var ((type, minute), count) in counts)
        {
            types[i] = typeNames[type];
            minutes[i] = DateTime.UnixEpoch.AddSeconds(minute);
            values[i++] = count;
        }

        return (types, minutes, values);
    }

    /// <summary>Stores one refused event with the database's reason. NULs cannot be stored in text, so they are escaped.</summary>
    /// <returns>False when the event was already dead-lettered.</returns>
    public async Task<bool> DeadLetterAsync(EventRecord e, IReadOnlyList<string> typeNames, PostgresException error, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(DeadLetterSql);
        command.Parameters.Add(new() { Value = Printable(e.Id) });
        command.Parameters.Add(new() { Value = Printable(e.UserId) });
        command.Parameters.Add(new() { Value = e.Type < typeNames.Count ? typeNames[e.Type] : e.Type.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        command.Parameters.Add(new() { Value = DateTime.UnixEpoch.AddSeconds(e.Timestamp), NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = e.Payload is null ? DBNull.Value : Printable(e.Payload) });
        command.Parameters.Add(new() { Value = DateTime.UnixEpoch.AddMilliseconds(e.ReceivedAtMs), NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = error.Detail is { Length: > 0 } detail ? $"{error.MessageText}: {detail}" : error.MessageText });
        command.Parameters.Add(new() { Value = error.SqlState });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private static string Printable(string text) => text.Contains('\0', StringComparison.Ordinal) ? text.Replace("\0", "\\u0000", StringComparison.Ordinal) : text;
}

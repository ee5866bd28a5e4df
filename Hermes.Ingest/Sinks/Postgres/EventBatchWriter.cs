using Hermes.Ingest.Events;
using Npgsql;
using NpgsqlTypes;

namespace Hermes.Ingest.Sinks.Postgres;

/// <summary>
/// Writes one batch in one transaction: a binary COPY into a per-connection temp staging table, then one statement
/// that moves the rows into <c>events</c> (skipping ids already there) and adds only the rows it inserted to
/// <c>event_rollups</c>. So a re-sent id is stored once and counted once, and a rollup never runs ahead of its rows.
/// </summary>
public sealed class EventBatchWriter(NpgsqlDataSource dataSource)
{
    // ON COMMIT DELETE ROWS empties the table at each commit. The pool keeps sessions (NoResetOnClose), so the table
    // is created once per connection; IF NOT EXISTS is a catalog lookup in the round trip that opens the transaction.
    private const string CreateStagingSql =
        "CREATE TEMP TABLE IF NOT EXISTS events_staging (id text, user_id text, type text, ts timestamptz, payload jsonb, received_at timestamptz) ON COMMIT DELETE ROWS";

    private const string CopySql =
        "COPY events_staging (id, user_id, type, ts, payload, received_at) FROM STDIN (FORMAT BINARY)";

    // ORDER BY in the rollup insert makes concurrent batches lock the same (type, minute) rows in the same order,
    // which avoids deadlocks between writers.
    private const string MergeSql =
        """
        WITH inserted AS (
            INSERT INTO events (id, user_id, type, ts, payload, received_at)
            SELECT id, user_id, type, ts, payload, received_at FROM events_staging
            ON CONFLICT (id) DO NOTHING
            RETURNING type, ts
        ), rolled AS (
            INSERT INTO event_rollups AS r (type, minute, count)
            SELECT type, date_trunc('minute', ts), count(*) FROM inserted GROUP BY 1, 2 ORDER BY 1, 2
            ON CONFLICT (type, minute) DO UPDATE SET count = r.count + EXCLUDED.count
        )
        SELECT count(*) FROM inserted
        """;

    private const string DeadLetterSql =
        """
        INSERT INTO dead_letters (id, user_id, type, ts, payload, received_at, error, sqlstate)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (id) DO NOTHING
        """;

    /// <returns>How many rows were new (the rest were ids already stored).</returns>
    public async Task<long> WriteAsync(ReadOnlyMemory<EventRecord> batch, IReadOnlyList<string> typeNames, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var create = new NpgsqlCommand(CreateStagingSql, connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var importer = await connection.BeginBinaryImportAsync(CopySql, cancellationToken))
        {
            for (var i = 0; i < batch.Length; i++)
            {
                var e = batch.Span[i];
                await importer.StartRowAsync(cancellationToken);
                await importer.WriteAsync(e.Id, NpgsqlDbType.Text, cancellationToken);
                await importer.WriteAsync(e.UserId, NpgsqlDbType.Text, cancellationToken);
                await importer.WriteAsync(typeNames[e.Type], NpgsqlDbType.Text, cancellationToken);
                await importer.WriteAsync(DateTime.UnixEpoch.AddSeconds(e.Timestamp), NpgsqlDbType.TimestampTz, cancellationToken);
                if (e.Payload is null)
                {
                    await importer.WriteNullAsync(cancellationToken);
                }
                else
                {
                    await importer.WriteAsync(e.Payload, NpgsqlDbType.Jsonb, cancellationToken);
                }

                await importer.WriteAsync(DateTime.UnixEpoch.AddMilliseconds(e.ReceivedAtMs), NpgsqlDbType.TimestampTz, cancellationToken);
            }

            await importer.CompleteAsync(cancellationToken);
        }

        long inserted;
        await using (var merge = new NpgsqlCommand(MergeSql, connection, transaction))
        {
            inserted = (long)(await merge.ExecuteScalarAsync(cancellationToken))!;
        }

        await transaction.CommitAsync(cancellationToken);
        return inserted;
    }

    /// <summary>Stores one refused event with the database's reason. NULs cannot be stored in text, so they are escaped.</summary>
    /// <returns>False when the id was already dead-lettered.</returns>
    public async Task<bool> DeadLetterAsync(EventRecord e, IReadOnlyList<string> typeNames, PostgresException error, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(DeadLetterSql);
        command.Parameters.Add(new() { Value = Printable(e.Id) });
        command.Parameters.Add(new() { Value = Printable(e.UserId) });
        command.Parameters.Add(new() { Value = e.Type < typeNames.Count ? typeNames[e.Type] : e.Type.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        command.Parameters.Add(new() { Value = e.Timestamp });
        command.Parameters.Add(new() { Value = e.Payload is null ? DBNull.Value : Printable(e.Payload) });
        command.Parameters.Add(new() { Value = DateTime.UnixEpoch.AddMilliseconds(e.ReceivedAtMs), NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = error.Detail is { Length: > 0 } detail ? $"{error.MessageText}: {detail}" : error.MessageText });
        command.Parameters.Add(new() { Value = error.SqlState });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private static string Printable(string text) => text.Contains('\0', StringComparison.Ordinal) ? text.Replace("\0", "\\u0000", StringComparison.Ordinal) : text;
}

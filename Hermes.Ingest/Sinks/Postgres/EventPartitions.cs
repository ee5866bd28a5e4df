using Hermes.Ingest.Configuration;
using Hermes.Ingest.Events;
using Npgsql;

namespace Hermes.Ingest.Sinks.Postgres;

/// <summary>A table Hermes partitions by time, and the column it is partitioned on.</summary>
public sealed record PartitionedTable(int Index, string Name, string KeyColumn)
{
    public static readonly PartitionedTable Events = new(0, "events", "ts");
    public static readonly PartitionedTable Rollups = new(1, "event_rollup_shards", "minute");
    public static readonly PartitionedTable DeadLetters = new(2, "dead_letters", "ts");

    /// <summary>In the order retention visits them: events first, so their rollups can still count what goes.</summary>
    public static readonly PartitionedTable[] All = [Events, Rollups, DeadLetters];
}

/// <summary>
/// The time partitions of <c>events</c>, <c>event_rollup_shards</c> and <c>dead_letters</c>: which exist (read from
/// the catalog, cached), creating the ones a batch needs before it is written, and dropping the ones retention no
/// longer keeps. Every change runs under one advisory lock, so replicas never race each other, and neither blocks
/// writers: a partition is created empty and attached (SHARE UPDATE EXCLUSIVE on the parent, which COPY's ROW
/// EXCLUSIVE does not conflict with), and dropped after <c>DETACH PARTITION … CONCURRENTLY</c>.
/// </summary>
public sealed partial class EventPartitions(NpgsqlDataSource dataSource, PostgresSinkOptions options, PostgresSinkMetrics metrics, ILogger<EventPartitions> logger)
{
    /// <summary>Not the migration's key: partition changes may run while a migration waits, and the reverse.</summary>
    private const long PartitionLockKey = 0x48726D73_50617274; // "HrmsPart"

    private const string CatalogSql =
        """
        SELECT t.name, c.relname, pg_get_expr(c.relpartbound, c.oid), i.inhdetachpending
        FROM unnest($1::text[]) AS t(name)
        JOIN pg_inherits i ON i.inhparent = to_regclass(t.name)
        JOIN pg_class c ON c.oid = i.inhrelid
        """;

    // One sorted array per table (index = PartitionedTable.Index), replaced whole; null until first read.
    private PartitionRange[][]? _known;

    /// <summary>The partitions this instance knows of, sorted; empty before the catalog was first read.</summary>
    public IReadOnlyList<PartitionRange> Known(PartitionedTable table) => Volatile.Read(ref _known)?[table.Index] ?? [];

    /// <summary>Creates whatever partitions the batch's timestamps need; free when the cache says they all exist.</summary>
    public ValueTask EnsureCoveredAsync(ReadOnlyMemory<EventRecord> batch, CancellationToken cancellationToken) =>
        Uncovered(batch.Span) is { } missing ? new ValueTask(CreateAsync(missing, cancellationToken)) : ValueTask.CompletedTask;

    /// <summary>Creates whatever partitions these Unix-second timestamps need.</summary>
    public async Task EnsureCoveredAsync(IReadOnlyList<long> timestamps, CancellationToken cancellationToken)
    {
        var known = Volatile.Read(ref _known);
        if (known is null || timestamps.Any(ts => !CoveredEverywhere(known, ts)))
        {
            await CreateAsync(timestamps, cancellationToken);
        }
    }

    /// <summary>Forgets the cache, so the next batch reads the catalog (another instance dropped a partition).</summary>
    public void Invalidate() => Volatile.Write(ref _known, null);

    /// <summary>
    /// One timestamp per interval that some table lacks a partition for, or null when all are covered. The usual
    /// batch spans a few seconds inside one partition: two bounds checks, no allocation.
    /// </summary>
    internal List<long>? Uncovered(ReadOnlySpan<EventRecord> batch)
    {
        if (batch.IsEmpty)
        {
            return null;
        }

        var known = Volatile.Read(ref _known);
        long min = long.MaxValue, max = long.MinValue;
        foreach (ref readonly var e in batch)
        {
            min = Math.Min(min, e.Timestamp);
            max = Math.Max(max, e.Timestamp);
        }

        if (known is not null && CoveredEverywhere(known, min, max))
        {
            return null;
        }

        List<long> missing = [];
        HashSet<long> intervals = [];
        foreach (ref readonly var e in batch)
        {
            if ((known is null || !CoveredEverywhere(known, e.Timestamp))
                && intervals.Add(PartitionLayout.IntervalOf(e.Timestamp, options.PartitionInterval).From))
            {
                missing.Add(e.Timestamp);
            }
        }

        return missing.Count == 0 ? null : missing;
    }

    private static bool CoveredEverywhere(PartitionRange[][] known, long timestamp) => CoveredEverywhere(known, timestamp, timestamp);

    /// <summary>Whether one partition of each table holds all of [min, max].</summary>
    private static bool CoveredEverywhere(PartitionRange[][] known, long min, long max)
    {
        foreach (var table in known)
        {
            if (PartitionLayout.Find(table, min) is not { } partition || max >= partition.To)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Reads the catalog and creates, in every table, a partition for each timestamp none holds yet.</summary>
    public async Task CreateAsync(IReadOnlyCollection<long> timestamps, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({PartitionLockKey})", cancellationToken);

        // Waiting for the parent's lock behind a long query would stall this batch, and everything queued behind
        // it; failing after a while spills the batch and a later write tries again.
        await ExecuteAsync(connection, "SET LOCAL lock_timeout = '10s'", cancellationToken);
        var catalog = await ReadCatalogAsync(connection, cancellationToken);
        foreach (var table in PartitionedTable.All)
        {
            var partitions = catalog[table.Index];
            foreach (var timestamp in timestamps)
            {
                if (PartitionLayout.RangeFor(timestamp, partitions, options.PartitionInterval) is not { } range)
                {
                    continue;
                }

                var (from, to) = range;
                var name = await FreeNameAsync(connection, PartitionLayout.NameFor(table.Name, from), cancellationToken);
                await ExecuteAsync(connection,
                    $"CREATE TABLE {name} (LIKE {table.Name} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)", cancellationToken);
                await ExecuteAsync(connection,
                    $"ALTER TABLE {table.Name} ATTACH PARTITION {name} FOR VALUES FROM ({PartitionLayout.BoundSql(from)}) TO ({PartitionLayout.BoundSql(to)})",
                    cancellationToken);
                partitions.Add(new(name, from, to));
                partitions.Sort((a, b) => a.From.CompareTo(b.From));
                metrics.OnPartitionCreated(table);
                LogCreated(logger, name, PartitionLayout.BoundSql(from), PartitionLayout.BoundSql(to));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        Publish(catalog);
    }

    /// <summary>Reads the catalog into the cache.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        Publish(await ReadCatalogAsync(connection, cancellationToken));
    }

    /// <summary>
    /// Drops every partition wholly older than its table's retention (events: EVENT_RETENTION; rollups and dead
    /// letters: ROLLUP_RETENTION) and finishes any detach an interrupted run left pending. Skipped when another
    /// instance is at it. Never deletes rows: a partition goes whole, or stays.
    /// </summary>
    public async Task ApplyRetentionAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using (var tryLock = new NpgsqlCommand($"SELECT pg_try_advisory_lock({PartitionLockKey})", connection))
        {
            if (!(bool)(await tryLock.ExecuteScalarAsync(cancellationToken))!)
            {
                return;
            }
        }

        try
        {
            List<PartitionRange>[] catalog;
            List<(PartitionedTable Table, string Name)> pending = [];
            await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
            {
                catalog = await ReadCatalogAsync(connection, cancellationToken, pending);
            }

            foreach (var (table, name) in pending)
            {
                await ExecuteAsync(connection, $"ALTER TABLE {table.Name} DETACH PARTITION {name} FINALIZE", cancellationToken, waitForever: true);
                await ExecuteAsync(connection, $"DROP TABLE {name}", cancellationToken, waitForever: true);
            }

            var nowSeconds = now.ToUnixTimeSeconds();
            foreach (var table in PartitionedTable.All)
            {
                var retention = table == PartitionedTable.Events ? options.EventRetention : options.RollupRetention;
                if (retention <= TimeSpan.Zero)
                {
                    continue;
                }

                var cutoff = nowSeconds - (long)retention.TotalSeconds;
                foreach (var partition in catalog[table.Index].Where(p => p.To <= cutoff).ToList())
                {
                    var events = table == PartitionedTable.Events ? await CountStoredAsync(connection, partition, cancellationToken) : 0;

                    // CONCURRENTLY takes only SHARE UPDATE EXCLUSIVE on the parent, so writers carry on; it waits
                    // for transactions that might still read the partition, hence no timeout.
                    await ExecuteAsync(connection, $"ALTER TABLE {table.Name} DETACH PARTITION {partition.Name} CONCURRENTLY", cancellationToken, waitForever: true);
                    await ExecuteAsync(connection, $"DROP TABLE {partition.Name}", cancellationToken, waitForever: true);
                    catalog[table.Index].Remove(partition);
                    metrics.OnPartitionDropped(table, events);
                    LogDropped(logger, partition.Name, events, GoDuration.Format(retention));
                }
            }

            Publish(catalog);
        }
        finally
        {
            await ExecuteAsync(connection, $"SELECT pg_advisory_unlock({PartitionLockKey})", CancellationToken.None);
        }
    }

    /// <summary>Events in an events partition, from the rollups (which count exactly the rows inserted): no scan.</summary>
    private static async Task<long> CountStoredAsync(NpgsqlConnection connection, PartitionRange partition, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT coalesce(sum(count), 0)::bigint FROM event_rollup_shards WHERE minute >= $1 AND minute < $2", connection);
        command.Parameters.Add(new() { Value = partition.From == long.MinValue ? DateTime.MinValue : DateTime.UnixEpoch.AddSeconds(partition.From), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = partition.To > PartitionLayout.MaxTimestamp ? DateTime.MaxValue : DateTime.UnixEpoch.AddSeconds(partition.To), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>The catalog's partitions per table, sorted; partitions with a detach pending go to <paramref name="pending"/>.</summary>
    private static async Task<List<PartitionRange>[]> ReadCatalogAsync(NpgsqlConnection connection, CancellationToken cancellationToken,
        List<(PartitionedTable, string)>? pending = null)
    {
        // pg_get_expr prints bounds in the session's time zone; UTC makes them parseable whatever the server's is.
        await ExecuteAsync(connection, "SET LOCAL TimeZone = 'UTC'", cancellationToken);
        var catalog = PartitionedTable.All.Select(_ => new List<PartitionRange>()).ToArray();
        await using var command = new NpgsqlCommand(CatalogSql, connection);
        command.Parameters.Add(new() { Value = PartitionedTable.All.Select(t => t.Name).ToArray() });
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var table = PartitionedTable.All.Single(t => t.Name == reader.GetString(0));
                var name = reader.GetString(1);
                if (reader.GetBoolean(3))
                {
                    pending?.Add((table, name));
                }
                else if (PartitionLayout.TryParseBound(reader.GetString(2), out var from, out var to))
                {
                    catalog[table.Index].Add(new(name, from, to));
                }
            }
        }

        foreach (var partitions in catalog)
        {
            partitions.Sort((a, b) => a.From.CompareTo(b.From));
        }

        return catalog;
    }

    private void Publish(List<PartitionRange>[] catalog)
    {
        Volatile.Write(ref _known, [.. catalog.Select(p => p.ToArray())]);
        foreach (var table in PartitionedTable.All)
        {
            metrics.SetPartitions(table, catalog[table.Index].Count);
        }
    }

    /// <summary>The name, or the name with a suffix if a table of that name exists (a partition detached by hand).</summary>
    private static async Task<string> FreeNameAsync(NpgsqlConnection connection, string name, CancellationToken cancellationToken)
    {
        for (var suffix = 1; ; suffix++)
        {
            var candidate = suffix == 1 ? name : $"{name}_{suffix}";
            await using var command = new NpgsqlCommand("SELECT to_regclass($1) IS NULL", connection);
            command.Parameters.Add(new() { Value = candidate });
            if ((bool)(await command.ExecuteScalarAsync(cancellationToken))!)
            {
                return candidate;
            }
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, bool waitForever = false)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        if (waitForever)
        {
            command.CommandTimeout = 0;
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
    }


    [LoggerMessage(Level = LogLevel.Information, Message = "Created partition {Partition} for [{From}, {To})")]
    private static partial void LogCreated(ILogger logger, string partition, string from, string to);

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention dropped partition {Partition} ({Events} events; older than {Retention})")]
    private static partial void LogDropped(ILogger logger, string partition, long events, string retention);
}

using Npgsql;

namespace Hermes.Ingest.Sinks.Postgres;

/// <summary>
/// The tables Hermes writes, as numbered migrations applied at startup. Each runs once, in one transaction with its
/// <c>schema_version</c> row, under a transaction-scoped advisory lock, so two instances starting together apply
/// it once between them and the second just sees the new version.
/// </summary>
public sealed partial class PostgresSchema(NpgsqlDataSource dataSource, ILogger<PostgresSchema> logger)
{
    /// <summary>Any constant unique to Hermes: pg_advisory_xact_lock takes a bigint key.</summary>
    private const long MigrationLockKey = 0x4865726D6573; // "Hermes"

    public static readonly IReadOnlyList<(int Version, string Description, string Sql)> Migrations =
    [
        (1, "events, event_rollup_shards, event_rollups view, dead_letters",
            """
            -- One row per distinct id: the primary key is what makes re-sent events land once. It costs: a raw
            -- COPY of 500k rows took 0.86 s without it, 1.64 s with it. COLLATE "C" (byte order; nobody sorts ids
            -- by language) brought that to 1.45 s, since C.UTF-8 is not memcmp to PostgreSQL 15.
            CREATE TABLE events (
                id          text        COLLATE "C" PRIMARY KEY,
                user_id     text        NOT NULL,
                type        text        NOT NULL,
                ts          timestamptz NOT NULL,
                payload     jsonb,
                received_at timestamptz NOT NULL
            );

            -- Per-minute counts, bumped in the transaction that inserts the rows, from only the rows inserted.
            -- Each concurrent writer adds to its own shard row: with one row per (type, minute), every batch
            -- waited for the previous one's commit on the current minute's row lock (4 of 6 active sessions in
            -- Lock:transactionid under load, ~115k rows/s); with a shard per writer they do not wait at all.
            CREATE TABLE event_rollup_shards (
                type   text        NOT NULL,
                minute timestamptz NOT NULL,
                shard  smallint    NOT NULL,
                count  bigint      NOT NULL,
                PRIMARY KEY (type, minute, shard)
            );

            -- What to query: one row per (type, minute). The key's (type, minute) prefix serves the dashboard's
            -- "one type over a time range" scans through the view.
            CREATE VIEW event_rollups AS
                SELECT type, minute, sum(count)::bigint AS count FROM event_rollup_shards GROUP BY type, minute;

            -- Events the database refused because of their data (e.g. \u0000 in jsonb), with the reason.
            -- Raw text, no constraints beyond the key, so whatever was refused can be kept.
            CREATE TABLE dead_letters (
                id          text        COLLATE "C" PRIMARY KEY,
                user_id     text,
                type        text,
                ts          bigint,
                payload     text,
                received_at timestamptz,
                error       text        NOT NULL,
                sqlstate    text,
                failed_at   timestamptz NOT NULL DEFAULT now()
            );
            """),
        (2, "event_rollup_shards and dead_letters partitioned by time; what was stored becomes their archive partitions",
            $"""
            -- Counts are partitioned by minute as events are by time, so retention drops them whole and a read for a
            -- time range touches only its partitions. The stored table becomes the archive partition: nothing is
            -- copied, and its key already contains the partition column.
            DROP VIEW event_rollups;
            ALTER TABLE event_rollup_shards RENAME TO event_rollup_shards_archive;
            ALTER INDEX event_rollup_shards_pkey RENAME TO event_rollup_shards_archive_pkey;
            CREATE TABLE event_rollup_shards (
                type   text        NOT NULL,
                minute timestamptz NOT NULL,
                shard  smallint    NOT NULL,
                count  bigint      NOT NULL,
                PRIMARY KEY (type, minute, shard)
            ) PARTITION BY RANGE (minute);
            DO $$ BEGIN
                EXECUTE format('ALTER TABLE event_rollup_shards ATTACH PARTITION event_rollup_shards_archive FOR VALUES FROM (MINVALUE) TO (%L)',
                    {ArchiveBound("(SELECT max(minute) FROM event_rollup_shards_archive)")});
            END $$;
            CREATE VIEW event_rollups AS
                SELECT type, minute, sum(count)::bigint AS count FROM event_rollup_shards GROUP BY type, minute;

            -- Keyed like events, (ts, id): the same event refused twice is one dead letter. ts becomes timestamptz
            -- (it was Unix seconds) to partition on; the few rows there are, are copied.
            ALTER TABLE dead_letters RENAME TO dead_letters_v1;
            ALTER INDEX dead_letters_pkey RENAME TO dead_letters_v1_pkey;
            CREATE TABLE dead_letters (
                id          text        COLLATE "C" NOT NULL,
                user_id     text,
                type        text,
                ts          timestamptz NOT NULL,
                payload     text,
                received_at timestamptz,
                error       text        NOT NULL,
                sqlstate    text,
                failed_at   timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (ts, id)
            ) PARTITION BY RANGE (ts);
            DO $$ BEGIN
                EXECUTE format('CREATE TABLE dead_letters_archive PARTITION OF dead_letters FOR VALUES FROM (MINVALUE) TO (%L)',
                    {ArchiveBound("(SELECT to_timestamp(max(ts)) FROM dead_letters_v1)")});
            END $$;
            INSERT INTO dead_letters (id, user_id, type, ts, payload, received_at, error, sqlstate, failed_at)
                SELECT id, user_id, type, to_timestamp(ts), payload, received_at, error, sqlstate, failed_at FROM dead_letters_v1;
            DROP TABLE dead_letters_v1;
            """),
        (3, "events partitioned by time with the key (ts, id); what was stored becomes the archive partition",
            $"""
            -- Random ids (UUIDv4, as SDKs send) under a key that starts with the id dirty a random leaf page per row
            -- once the index outgrows shared_buffers, and after each checkpoint every such page is written whole to
            -- the WAL: measured 80k rows/s falling to 51k, WAL per row 357 B rising to 3,873 B, by 16M rows. A key
            -- that starts with time keeps the pages being written few and hot (flat ~270 B per row), and partitions
            -- by time let retention drop a day whole. The same id with another timestamp is another event now.
            --
            -- The stored rows stay where they are and become the archive partition; only their key is rebuilt
            -- (a sort of the table), and ATTACH scans them once to check the bound. Writers wait meanwhile (they
            -- spill if it takes longer than DB_WRITE_TIMEOUT); readers of event_rollups do not.
            LOCK TABLE events IN ACCESS EXCLUSIVE MODE;
            ALTER TABLE events RENAME TO events_archive;
            ALTER TABLE events_archive DROP CONSTRAINT events_pkey;
            ALTER TABLE events_archive ADD CONSTRAINT events_archive_pkey PRIMARY KEY (ts, id);
            CREATE TABLE events (
                id          text        COLLATE "C" NOT NULL,
                user_id     text        NOT NULL,
                type        text        NOT NULL,
                ts          timestamptz NOT NULL,
                payload     jsonb,
                received_at timestamptz NOT NULL,
                PRIMARY KEY (ts, id)
            ) PARTITION BY RANGE (ts);
            DO $$ BEGIN
                EXECUTE format('ALTER TABLE events ATTACH PARTITION events_archive FOR VALUES FROM (MINVALUE) TO (%L)',
                    {ArchiveBound("(SELECT max(ts) FROM events_archive)")});
            END $$;
            """),
    ];

    private readonly Lock _gate = new();
    private Task? _migration;

    public static int LatestVersion => Migrations[^1].Version;

    /// <summary>
    /// The upper bound of an archive partition: the first UTC midnight after both the newest stored time
    /// (<paramref name="newestSql"/>, NULL when empty) and the start of today. Partitions per interval begin
    /// there, so the table never gets one for a day before the schema existed, whatever timestamps arrive.
    /// </summary>
    private static string ArchiveBound(string newestSql) =>
        $"greatest(date_trunc('day', now() AT TIME ZONE 'UTC'), date_trunc('day', {newestSql} AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC'";

    /// <summary>
    /// Applies missing migrations once per process; cheap after the first success. Concurrent callers share one
    /// run, each waiting no longer than its own token allows (a write gives up after DB_WRITE_TIMEOUT and spills;
    /// the migration itself carries on, since a big table's may take minutes).
    /// </summary>
    public async ValueTask EnsureAsync(CancellationToken cancellationToken)
    {
        Task migration;
        lock (_gate)
        {
            if (_migration is { IsCompletedSuccessfully: true })
            {
                return;
            }

            if (_migration is null || _migration.IsFaulted || _migration.IsCanceled)
            {
                _migration = MigrateAsync();
            }

            migration = _migration;
        }

        await migration.WaitAsync(cancellationToken);
    }

    /// <summary>Each migration in its own transaction, so readers of tables a later migration leaves alone are not held up.</summary>
    private async Task MigrateAsync()
    {
        await using var connection = await dataSource.OpenConnectionAsync(CancellationToken.None);
        while (await ApplyNextAsync(connection))
        {
        }
    }

    private async Task<bool> ApplyNextAsync(NpgsqlConnection connection)
    {
        await using var transaction = await connection.BeginTransactionAsync(CancellationToken.None);
        await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({MigrationLockKey})");
        await ExecuteAsync(connection,
            """
            CREATE TABLE IF NOT EXISTS schema_version (
                version     integer     PRIMARY KEY,
                description text        NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            )
            """);

        await using var current = new NpgsqlCommand("SELECT coalesce(max(version), 0) FROM schema_version", connection);
        var version = (int)(await current.ExecuteScalarAsync(CancellationToken.None))!;
        var next = Migrations.FirstOrDefault(m => m.Version > version);
        if (next.Sql is null)
        {
            return false;
        }

        await ExecuteAsync(connection, next.Sql);
        await using var record = new NpgsqlCommand("INSERT INTO schema_version (version, description) VALUES ($1, $2)", connection);
        record.Parameters.Add(new() { Value = next.Version });
        record.Parameters.Add(new() { Value = next.Description });
        await record.ExecuteNonQueryAsync(CancellationToken.None);
        await transaction.CommitAsync(CancellationToken.None);
        LogMigrated(logger, next.Version, next.Description);
        return true;
    }

    /// <summary>No command timeout: rebuilding the key of a large v1 table takes as long as it takes.</summary>
    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync(CancellationToken.None);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied schema migration {Version}: {Description}")]
    private static partial void LogMigrated(ILogger logger, int version, string description);
}

// The database's own ceiling for bench/postgres.sh: binary COPY of rows shaped like Hermes's (same id scheme,
// same columns, same table), straight from memory, with no HTTP, parsing or queueing in the way. Prints rows/s
// and WAL bytes per row for every interval, so a falling rate or rising WAL shows, and a final RAWCOPY_RESULT line.
//
//   dotnet RawCopy.dll --dsn "Host=127.0.0.1;Port=55432;Username=postgres;Database=raw" --seconds 240
//   dotnet RawCopy.dll --dsn … --rows 100000000 --ts-from -7200    # pre-fill: ts rising over the last 2 hours
//
// Options: --table (events), --seconds N or --rows N, --connections (2), --rows-per-copy (5000),
// --ids uuid|clustered (uuid: random UUIDv4 as SDKs send; clustered: "<run>-<conn>-<copy>-<i>", which a B-tree
// loves), --ts-from S (rows' timestamps rise evenly from now+S to now instead of being the current second),
// --report seconds between progress lines (10), --rollups (also upsert the batch's per-minute counts, as Hermes does),
// --mode copy|insert|precheck|merge (how rows get in: see EventBatchWriter for what each measured).
using System.Diagnostics;
using System.Globalization;
using Npgsql;
using NpgsqlTypes;

var options = Options.Parse(args);
var dataSource = new NpgsqlDataSourceBuilder(options.Dsn).Build();
string[] types = ["trip_started", "song_played", "ad_clicked", "location_update"];
var runId = Convert.ToHexString(BitConverter.GetBytes(Environment.TickCount64))[..8].ToLowerInvariant();

long committed = 0;
long rowsIssued = 0;
var started = Stopwatch.GetTimestamp();
var deadline = options.Seconds > 0 ? started + (long)(options.Seconds * Stopwatch.Frequency) : long.MaxValue;
var total = options.Rows > 0 ? options.Rows : long.MaxValue;
var startUnix = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

using var stop = new CancellationTokenSource();
var reporter = Task.Run(() => ReportAsync(stop.Token));
var writers = Enumerable.Range(0, options.Connections).Select(c => Task.Run(() => WriteAsync(c))).ToArray();
await Task.WhenAll(writers);
stop.Cancel();
await reporter;

var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"RAWCOPY_RESULT rows={committed} seconds={seconds:F2} rows_per_s={committed / seconds:F0} connections={options.Connections} rows_per_copy={options.RowsPerCopy} ids={options.Ids}"));
return 0;

async Task WriteAsync(int connectionIndex)
{
    await using var connection = await dataSource.OpenConnectionAsync();
    var copyNumber = 0L;
    while (Stopwatch.GetTimestamp() < deadline)
    {
        var first = Interlocked.Add(ref rowsIssued, options.RowsPerCopy) - options.RowsPerCopy;
        if (first >= total)
        {
            return;
        }

        var count = (int)Math.Min(options.RowsPerCopy, total - first);
        var now = DateTime.UtcNow;
        copyNumber++;
        var ids = new string[count];
        var users = new string[count];
        var kinds = new string[count];
        var stamps = new DateTime[count];
        var payloads = new string[count];
        var received = new DateTime[count];
        for (var i = 0; i < count; i++)
        {
            ids[i] = options.Ids == "uuid" ? Guid.NewGuid().ToString() : $"{runId}-{connectionIndex}-{copyNumber}-{i}";
            users[i] = "user-" + ((first + i) % 1000).ToString(CultureInfo.InvariantCulture);
            kinds[i] = types[(first + i) % 4];
            stamps[i] = Timestamp(first + i, now);
            payloads[i] = """{"k":1}""";
            received[i] = now;
        }

        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var duplicates = false;
            if (options.Mode == "precheck")
            {
                // Does any (ts, id) of the batch exist already? One index probe per row.
                await using var check = new NpgsqlCommand(
                    $"SELECT EXISTS (SELECT 1 FROM unnest($1::timestamptz[], $2::text[]) AS u(ts, id) JOIN {options.Table} e ON e.ts = u.ts AND e.id = u.id)", connection, transaction);
                check.Parameters.Add(new() { Value = stamps, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
                check.Parameters.Add(new() { Value = ids });
                duplicates = (bool)(await check.ExecuteScalarAsync())!;
            }

            if (options.Mode == "insert" || duplicates)
            {
                await using var insert = new NpgsqlCommand(
                    $"INSERT INTO {options.Table} (id, user_id, type, ts, payload, received_at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::jsonb[], $6::timestamptz[]) ON CONFLICT DO NOTHING", connection, transaction);
                insert.Parameters.Add(new() { Value = ids });
                insert.Parameters.Add(new() { Value = users });
                insert.Parameters.Add(new() { Value = kinds });
                insert.Parameters.Add(new() { Value = stamps, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
                insert.Parameters.Add(new() { Value = payloads, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
                insert.Parameters.Add(new() { Value = received, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
                await insert.ExecuteNonQueryAsync();
            }
            else
            {
                if (options.Mode == "merge")
                {
                    await using var create = new NpgsqlCommand("CREATE TEMP TABLE IF NOT EXISTS staging (id text, user_id text, type text, ts timestamptz, payload jsonb, received_at timestamptz) ON COMMIT DELETE ROWS", connection, transaction);
                    await create.ExecuteNonQueryAsync();
                }

                var target = options.Mode == "merge" ? "staging" : options.Table;
                await using (var importer = await connection.BeginBinaryImportAsync(
                    $"COPY {target} (id, user_id, type, ts, payload, received_at) FROM STDIN (FORMAT BINARY)"))
                {
                    for (var i = 0; i < count; i++)
                    {
                        importer.StartRow();
                        importer.Write(ids[i], NpgsqlDbType.Text);
                        importer.Write(users[i], NpgsqlDbType.Text);
                        importer.Write(kinds[i], NpgsqlDbType.Text);
                        importer.Write(stamps[i], NpgsqlDbType.TimestampTz);
                        importer.Write(payloads[i], NpgsqlDbType.Jsonb);
                        importer.Write(received[i], NpgsqlDbType.TimestampTz);
                    }

                    await importer.CompleteAsync();
                }

                if (options.Rollups)
                {
                    // What Hermes adds per batch: the batch's per-minute counts into this writer's rollup shard.
                    var minute = stamps[0].AddTicks(-(stamps[0].Ticks % TimeSpan.TicksPerMinute));
                    await using var add = new NpgsqlCommand(
                        """
                        INSERT INTO event_rollup_shards AS r (type, minute, shard, count)
                        SELECT t, $2, $3, c FROM unnest($1::text[], $4::bigint[]) AS u(t, c)
                        ON CONFLICT (type, minute, shard) DO UPDATE SET count = r.count + EXCLUDED.count
                        """, connection, transaction);
                    add.Parameters.Add(new() { Value = types });
                    add.Parameters.Add(new() { Value = minute, NpgsqlDbType = NpgsqlDbType.TimestampTz });
                    add.Parameters.Add(new() { Value = (short)connectionIndex });
                    add.Parameters.Add(new() { Value = new long[] { count / 4, count / 4, count / 4, count - (3 * (count / 4)) } });
                    await add.ExecuteNonQueryAsync();
                }

                if (options.Mode == "merge")
                {
                    await using var merge = new NpgsqlCommand($"INSERT INTO {options.Table} SELECT * FROM staging ON CONFLICT DO NOTHING", connection, transaction);
                    await merge.ExecuteNonQueryAsync();
                }
            }

            await transaction.CommitAsync();
        }

        Interlocked.Add(ref committed, count);
    }
}

DateTime Timestamp(long row, DateTime now)
{
    var second = now.AddTicks(-(now.Ticks % TimeSpan.TicksPerSecond));
    if (options.TsFrom >= 0 || options.Rows <= 0)
    {
        return second;
    }

    // Evenly rising from now+TsFrom to now across the whole run, as a table that grew in time order.
    var offset = options.TsFrom + (double)-options.TsFrom * row / options.Rows;
    return DateTime.UnixEpoch.AddSeconds(startUnix + (long)offset);
}

async Task ReportAsync(CancellationToken cancellationToken)
{
    var lastRows = 0L;
    var lastWal = await WalLsnAsync();
    var lastAt = Stopwatch.GetTimestamp();
    using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Report));
    try
    {
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            var rows = Interlocked.Read(ref committed);
            var wal = await WalLsnAsync();
            var at = Stopwatch.GetTimestamp();
            var interval = Stopwatch.GetElapsedTime(lastAt, at).TotalSeconds;
            var delta = rows - lastRows;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"t={Stopwatch.GetElapsedTime(started, at).TotalSeconds:F0}s rows={rows} rows_per_s={delta / interval:F0} wal_bytes_per_row={(delta > 0 ? (wal - lastWal) / (double)delta : 0):F0}"));
            (lastRows, lastWal, lastAt) = (rows, wal, at);
        }
    }
    catch (OperationCanceledException)
    {
    }
}

async Task<long> WalLsnAsync()
{
    await using var command = dataSource.CreateCommand("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint");
    return (long)(await command.ExecuteScalarAsync())!;
}

internal sealed record Options(string Dsn, string Table, double Seconds, long Rows, int Connections, int RowsPerCopy, string Ids, long TsFrom, double Report, string Mode, bool Rollups)
{
    public static Options Parse(string[] args)
    {
        string Value(string name, string fallback)
        {
            var at = Array.IndexOf(args, name);
            return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
        }

        var options = new Options(
            Value("--dsn", Environment.GetEnvironmentVariable("RAWCOPY_DSN") ?? ""),
            Value("--table", "events"),
            double.Parse(Value("--seconds", "0"), CultureInfo.InvariantCulture),
            long.Parse(Value("--rows", "0"), CultureInfo.InvariantCulture),
            int.Parse(Value("--connections", "2"), CultureInfo.InvariantCulture),
            int.Parse(Value("--rows-per-copy", "5000"), CultureInfo.InvariantCulture),
            Value("--ids", "uuid"),
            long.Parse(Value("--ts-from", "0"), CultureInfo.InvariantCulture),
            double.Parse(Value("--report", "10"), CultureInfo.InvariantCulture),
            Value("--mode", "copy"),
            args.Contains("--rollups"));
        if (options.Dsn.Length == 0 || (options.Seconds <= 0 && options.Rows <= 0) || options.Ids is not ("uuid" or "clustered"))
        {
            throw new ArgumentException("usage: RawCopy --dsn <npgsql connection string> (--seconds N | --rows N) [--ids uuid|clustered] [--connections C] [--rows-per-copy R] [--ts-from -S] [--table T] [--report S]");
        }

        return options;
    }
}

using System.Text;
using Hermes.Ingest.Aggregation;
using Npgsql;

namespace Hermes.Ingest.Sinks.Postgres;

/// <summary>Reads <c>event_rollups</c> for <c>GET /aggregates?source=db</c>: totals across restarts and replicas.</summary>
public sealed class PersistedRollups(NpgsqlDataSource dataSource) : IPersistedCounts
{
    public async Task<List<AggregateCount>> ReadAsync(string? type, long? from, long? to, CancellationToken cancellationToken)
    {
        try
        {
            return await QueryAsync(type, from, to, cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            throw new CountsUnavailableException(ex);
        }
    }

    /// <summary>Same filters and order as <see cref="MinuteAggregator.Snapshot"/>: minute, then type.</summary>
    public async Task<List<AggregateCount>> QueryAsync(string? type, long? from, long? to, CancellationToken cancellationToken)
    {
        await using var command = CreateQuery(type, from, to);
        var result = new List<AggregateCount>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new AggregateCount(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2)));
        }

        return result;
    }

    /// <summary>
    /// The query, with the time range as bounds on <c>minute</c>, the column <c>event_rollup_shards</c> is
    /// partitioned on, so PostgreSQL reads only the partitions the range touches (a test reads the plan).
    /// </summary>
    public NpgsqlCommand CreateQuery(string? type, long? from, long? to)
    {
        var sql = new StringBuilder("SELECT type, extract(epoch FROM minute)::bigint, count FROM event_rollups WHERE true");
        var command = dataSource.CreateCommand();
        if (type is not null)
        {
            command.Parameters.Add(new() { Value = type });
            sql.Append(" AND type = $").Append(command.Parameters.Count);
        }

        if (from is not null)
        {
            command.Parameters.Add(new() { Value = DateTime.UnixEpoch.AddSeconds(from.Value), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            sql.Append(" AND minute >= $").Append(command.Parameters.Count);
        }

        if (to is not null)
        {
            command.Parameters.Add(new() { Value = DateTime.UnixEpoch.AddSeconds(to.Value), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            sql.Append(" AND minute <= $").Append(command.Parameters.Count);
        }

        command.CommandText = sql.Append(" ORDER BY minute, type COLLATE \"C\"").ToString();
        return command;
    }
}

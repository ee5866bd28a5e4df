using Npgsql;

namespace Hermes.Tests.Infrastructure;

/// <summary>The Postgres collection's fixture: one server for the tests that do not stop it.</summary>
public sealed class SharedPostgres : IAsyncLifetime
{
    public PostgresServer Server { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Server = await PostgresServer.StartAsync();

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}

/// <summary>Reads what Hermes wrote, over a connection of its own (no pool, so a restarted server is no problem).</summary>
public static class Database
{
    public static async Task<T> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    public static async Task<List<object?[]>> RowsAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<object?[]>();
        while (await reader.ReadAsync())
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }

    /// <summary>Polls until <paramref name="sql"/> returns <paramref name="expected"/>; returns the last value seen.</summary>
    public static async Task<long> WaitForCountAsync(string connectionString, string sql, long expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var last = -1L;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await ScalarAsync<long>(connectionString, sql);
                if (last == expected)
                {
                    return last;
                }
            }
            catch (NpgsqlException)
            {
                // Not created yet, or the server is restarting.
            }

            await Task.Delay(50);
        }

        return last;
    }
}

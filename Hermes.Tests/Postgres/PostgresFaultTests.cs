using Hermes.Ingest.Sinks.Postgres;
using Hermes.Tests.Durable;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;
using Npgsql;

namespace Hermes.Tests.Postgres;

/// <summary>
/// The durability contract with a real PostgreSQL 15 (<see cref="DurableSinkFaultTests"/>): each test starts, stops
/// and restarts a server of its own; an outage is the server stopped (connections refused).
/// </summary>
[NeedsPostgresServer]
[Collection(PostgresCollection.Name)]
public sealed class PostgresFaultTests : DurableSinkFaultTests
{
    private PostgresServer _server = null!;
    private string _db = "";

    /// <summary>Well-formed JSON that PostgreSQL's json parser refuses: a lone UTF-16 surrogate escape. (\u0000, the
    /// other classic, is refused at intake with a 400 now.)</summary>
    protected override string PoisonPayload => """{"bad":"half\ud800"}""";

    /// <summary>SQLSTATE 22P02 (invalid text representation), and the server's word for why.</summary>
    protected override string PoisonReason => "^22P02 .*surrogate";

    public override async ValueTask InitializeAsync()
    {
        _server = await PostgresServer.StartAsync();
        _db = await _server.CreateDatabaseAsync();
    }

    public override async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        await base.DisposeAsync();
    }

    protected override Task TakeDownAsync() => _server.StopAsync();

    protected override Task BringBackAsync() => _server.StartAsync(TimeSpan.FromSeconds(30));

    protected override HermesFactory Hermes(Dictionary<string, string?> settings) =>
        new(new(settings) { ["DB_DSN"] = _db, ["SPILL_DIR"] = Spill.Path });

    protected override async Task<IReadOnlyList<string>> StoredIdsAsync() =>
        [.. (await RowsOnceMadeAsync("SELECT id FROM events")).Select(r => (string)r[0]!)];

    protected override async Task<IReadOnlyList<DeadLetter>> DeadLettersAsync() =>
        [.. (await RowsOnceMadeAsync("SELECT id, payload, sqlstate || ' ' || error FROM dead_letters")).Select(r => new DeadLetter((string)r[0]!, (string?)r[1], (string)r[2]!))];

    /// <summary>The rollups count what the events table holds, and the schema is the latest (made on the first write if need be).</summary>
    protected override async Task AssertConsistentAsync(long stored)
    {
        Assert.Equal(stored, (long)await Database.ScalarAsync<decimal>(_db, "SELECT sum(count) FROM event_rollups"));
        Assert.Equal(PostgresSchema.LatestVersion, await Database.ScalarAsync<int>(_db, "SELECT max(version) FROM schema_version"));
    }

    /// <summary>No rows while the server is down, or before the schema is made (the first write that gets through makes it).</summary>
    private async Task<List<object?[]>> RowsOnceMadeAsync(string sql)
    {
        try
        {
            return _server.IsRunning ? await Database.RowsAsync(_db, sql) : [];
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return [];
        }
    }
}

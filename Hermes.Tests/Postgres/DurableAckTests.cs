using System.Net;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;

namespace Hermes.Tests.Postgres;

/// <summary><c>?ack=durable</c> answers once the events are committed, or fsynced to the spill while the database is down.</summary>
[NeedsPostgresServer]
[Collection(PostgresCollection.Name)]
public sealed class DurableAckTests(SharedPostgres postgres)
{
    [Fact]
    public async Task Durable_ack_answers_200_only_once_the_rows_are_visible()
    {
        var db = await postgres.Server.CreateDatabaseAsync();
        using var spill = new TempDirectory("spill");
        // A long flush interval: without the durable request expediting its batch, the answer would take 1 h.
        await using var hermes = new HermesFactory(new() { ["DB_DSN"] = db, ["SPILL_DIR"] = spill.Path, ["FLUSH_INTERVAL"] = "1h" });
        var client = hermes.Start();

        var single = await client.PostAsync("/events?ack=durable", Events.Body(Events.Json("durable-1")), TestContext.Current.CancellationToken);
        var afterSingle = await Database.ScalarAsync<long>(db, "SELECT count(*) FROM events WHERE id = 'durable-1'");
        var batch = await client.PostAsync("/events/batch?ack=durable",
            Events.Array([Events.Json("durable-2"), Events.Json("durable-3", type: "nope"), Events.Json("durable-4")]), TestContext.Current.CancellationToken);
        var afterBatch = await Database.ScalarAsync<long>(db, "SELECT count(*) FROM events WHERE id IN ('durable-2', 'durable-4')");

        Assert.Equal(HttpStatusCode.OK, single.StatusCode);
        Assert.True((await single.ReadJsonAsync()).GetProperty("durable").GetBoolean());
        Assert.Equal(1, afterSingle);
        Assert.Equal(HttpStatusCode.OK, batch.StatusCode);
        var json = await batch.ReadJsonAsync();
        Assert.Equal(2, json.GetProperty("accepted").GetInt32());
        Assert.Equal(1, json.GetProperty("rejected")[0].GetProperty("index").GetInt32());
        Assert.Equal(2, afterBatch);

        await hermes.DisposeAsync();
    }

    [Fact]
    public async Task Durable_ack_with_the_database_down_answers_200_once_the_batch_is_fsynced_to_the_spill()
    {
        await using var server = await PostgresServer.StartAsync();
        var db = await server.CreateDatabaseAsync();
        using var spill = new TempDirectory("spill");
        await using var hermes = new HermesFactory(new() { ["DB_DSN"] = db, ["SPILL_DIR"] = spill.Path, ["DB_WRITE_TIMEOUT"] = "2s" });
        var client = hermes.Start();
        await server.StopAsync();

        var response = await client.PostAsync("/events?ack=durable", Events.Body(Events.Json("spilled-1")), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains(Directory.GetFiles(spill.Path, "*", SearchOption.AllDirectories), f => new FileInfo(f).Length > 0);

        await server.StartAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, await Database.WaitForCountAsync(db, "SELECT count(*) FROM events WHERE id = 'spilled-1'", 1, TimeSpan.FromSeconds(60)));
        await hermes.DisposeAsync();
    }
}

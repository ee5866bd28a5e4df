using System.Net;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Integration;

/// <summary>What <c>?ack=durable</c> refuses without a database (with one: Postgres/DurableAckTests).</summary>
public sealed class DurableAckWithoutDatabaseTests
{
    [Fact]
    public async Task Durable_ack_is_refused_when_the_sink_is_in_memory()
    {
        await using var hermes = new HermesFactory();
        var client = hermes.Start();

        var response = await client.PostAsync("/events?ack=durable", Events.Body(Events.Json("d-1")), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.ReadJsonAsync();
        Assert.Equal("ack", problem.GetProperty("field").GetString());
        Assert.Contains("DB_DSN", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Unknown_ack_mode_is_refused()
    {
        await using var hermes = new HermesFactory();
        var client = hermes.Start();

        var response = await client.PostAsync("/events/batch?ack=eventually", Events.Array([Events.Json("d-2")]), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("allowed-values", (await response.ReadJsonAsync()).GetProperty("rule").GetString());
    }
}

using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hermes.Contracts;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Integration;

public sealed class StatsTests
{
    [Fact]
    public async Task Stats_snapshot_reports_counts_queue_workers_sink_and_recent_minutes()
    {
        await using var hermes = new HermesFactory(new() { ["QUEUE_SIZE"] = "5000", ["WORKER_COUNT"] = "3", ["FLUSH_INTERVAL"] = "10ms" });
        var client = hermes.Start();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        await client.PostAsync("/events/batch", Events.Array([Events.Json("s-1", timestamp: now), Events.Json("s-2", timestamp: now), Events.Json("s-3", type: "bad")]), TestContext.Current.CancellationToken);

        var stats = await Events.Eventually(
            async () => await (await client.GetAsync("/stats")).ReadJsonAsync(),
            json => json.GetProperty("flushed").GetInt64() == 2,
            TimeSpan.FromSeconds(5));

        Assert.Equal(2, stats.GetProperty("accepted").GetInt64());
        Assert.Equal(1, stats.GetProperty("rejected").GetProperty("invalid").GetInt64());
        Assert.Equal(5000, stats.GetProperty("queue").GetProperty("capacity").GetInt64());
        Assert.Equal(3, stats.GetProperty("workers").GetProperty("count").GetInt32());
        Assert.Equal("memory", stats.GetProperty("sink").GetProperty("name").GetString());
        Assert.False(stats.GetProperty("sink").GetProperty("durable").GetBoolean());
        Assert.True(stats.GetProperty("flush").GetProperty("batches").GetInt64() >= 1);
        Assert.Equal(2, stats.GetProperty("aggregates").GetProperty($"song_played:{now - (now % 60)}").GetInt64());
    }

    [Fact]
    public async Task Stats_is_the_contract_record_the_dashboard_reads_and_nothing_more()
    {
        await using var hermes = new HermesFactory(new() { ["FLUSH_INTERVAL"] = "10ms" });
        var client = hermes.Start();
        await client.PostAsync("/events", Events.Body(Events.Json("c-1", timestamp: DateTimeOffset.UtcNow.ToUnixTimeSeconds())), TestContext.Current.CancellationToken);

        var json = await Events.Eventually(
            () => client.GetByteArrayAsync("/stats"),
            bytes => JsonDocument.Parse(bytes).RootElement.GetProperty("flushed").GetInt64() == 1,
            TimeSpan.FromSeconds(5));

        var snapshot = StatsContract.AssertRoundTrips(json);
        Assert.Equal(1, snapshot.Accepted);
        Assert.Equal("memory", snapshot.Sink.Name);
        Assert.Null(snapshot.Sink.Circuit);
        Assert.Null(snapshot.PreviousRun);
    }

    [Fact]
    public async Task Stream_pushes_a_snapshot_every_second_as_server_sent_events()
    {
        await using var hermes = new HermesFactory(new() { ["FLUSH_INTERVAL"] = "10ms" });
        var client = hermes.Start();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/aggregates/stream");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(TestContext.Current.CancellationToken));

        var first = await NextEventAsync(reader);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        await client.PostAsync("/events", Events.Body(Events.Json("live-1", type: "trip_started", timestamp: now)), TestContext.Current.CancellationToken);
        JsonElement latest;
        var started = DateTime.UtcNow;
        do
        {
            latest = await NextEventAsync(reader);
        }
        while (latest.GetProperty("flushed").GetInt64() < 1 && DateTime.UtcNow - started < TimeSpan.FromSeconds(10));

        Assert.Equal(0, first.GetProperty("accepted").GetInt64());
        Assert.Equal(1, latest.GetProperty("accepted").GetInt64());
        Assert.True(latest.GetProperty("time").GetInt64() > first.GetProperty("time").GetInt64());
        Assert.Equal(1, latest.GetProperty("aggregates").GetProperty($"trip_started:{now - (now % 60)}").GetInt64());
    }

    private static async Task<JsonElement> NextEventAsync(StreamReader reader)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (true)
        {
            var line = await reader.ReadLineAsync(timeout.Token) ?? throw new EndOfStreamException();
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                return JsonDocument.Parse(line["data: ".Length..]).RootElement;
            }
        }
    }
}

/// <summary>The one /stats contract: read into the shared record and written back, the JSON must be unchanged.</summary>
public static class StatsContract
{
    public static StatsSnapshot AssertRoundTrips(byte[] json)
    {
        var snapshot = JsonSerializer.Deserialize(json, ContractsJsonContext.Default.StatsSnapshot)!;
        var written = JsonSerializer.SerializeToNode(snapshot, ContractsJsonContext.Default.StatsSnapshot);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(json), written), $"/stats has parts the contract lacks:\n{System.Text.Encoding.UTF8.GetString(json)}\n{written}");
        return snapshot;
    }
}

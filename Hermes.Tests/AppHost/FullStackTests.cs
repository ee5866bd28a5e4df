using System.Net;
using Aspire.Hosting.Testing;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;
using Npgsql;

namespace Hermes.Tests.AppHost;

/// <summary>
/// The real AppHost: local-binary PostgreSQL, ingest and the dashboard under DCP, as `dotnet run --project
/// Hermes.AppHost` starts them on a machine with no container runtime.
/// </summary>
[NeedsAppHost]
[NeedsPostgreSql]
[Collection(AppHostCollection.Name)]
public sealed class FullStackTests(ITestOutputHelper output)
{
    private static readonly string[] Types = ["trip_started", "song_played", "ad_clicked", "location_update"];

    [Fact]
    public async Task Posted_batches_become_rows_and_db_aggregates_and_the_dashboard_is_served()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await HermesStack.StartAsync(ingestReplicas: 1, ct);
        output.WriteLine($"ingest healthy {stack.TimeToHealthy.TotalMilliseconds:F0} ms after StartAsync (fresh cluster)");
        foreach (var line in stack.Timeline)
        {
            output.WriteLine(line);
        }

        using var ingest = stack.App.CreateHttpClient("ingest");

        var expected = await PostBatchesAsync(ingest, batches: 5, perBatch: 200, freshConnections: false, ct);

        Assert.Equal(expected, await CountsFromDbAsync(ingest, expected, ct));
        await using (var connection = new NpgsqlConnection(await stack.ConnectionStringAsync(ct)))
        {
            await connection.OpenAsync(ct).WaitAsync(HermesStack.StepTimeout, ct);
            await using var count = new NpgsqlCommand("select count(*) from events", connection);
            Assert.Equal(1_000L, (long)(await count.ExecuteScalarAsync(ct).WaitAsync(HermesStack.StepTimeout, ct))!);
        }

        using var dashboard = stack.App.CreateHttpClient("dashboard");
        using var page = await dashboard.GetAsync("/", ct).WaitAsync(HermesStack.StepTimeout, ct);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);

        var left = await stack.StopAsync();
        Assert.True(left.Count == 0, "Still running after stop: " + string.Join("; ", left));
    }

    [Fact]
    public async Task Two_ingest_replicas_give_the_same_exact_totals()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await HermesStack.StartAsync(ingestReplicas: 2, ct);
        output.WriteLine($"both ingest replicas healthy {stack.TimeToHealthy.TotalMilliseconds:F0} ms after StartAsync");
        using var ingest = stack.App.CreateHttpClient("ingest");

        // A new connection per batch, so DCP's proxy spreads the batches over both replicas.
        var expected = await PostBatchesAsync(ingest, batches: 12, perBatch: 250, freshConnections: true, ct);

        // Every replica answers from the shared rollups, so each sees the whole total, not its own share.
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(expected, await CountsFromDbAsync(ingest, expected, ct, freshConnection: true));
        }

        var left = await stack.StopAsync();
        Assert.True(left.Count == 0, "Still running after stop: " + string.Join("; ", left));
    }

    /// <summary>Posts NDJSON batches with ?ack=durable (answered once committed); returns the expected per-key totals.</summary>
    private static async Task<SortedDictionary<string, long>> PostBatchesAsync(
        HttpClient ingest, int batches, int perBatch, bool freshConnections, CancellationToken ct)
    {
        var expected = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var run = Guid.NewGuid().ToString("N")[..8];
        for (var b = 0; b < batches; b++)
        {
            var lines = new List<string>(perBatch);
            for (var i = 0; i < perBatch; i++)
            {
                var type = Types[(b + i) % Types.Length];
                var timestamp = Events.Timestamp + (i % 3 * 60);
                lines.Add(Events.Json($"{run}-{b}-{i}", type, timestamp));
                var key = $"{type}:{timestamp - (timestamp % 60)}";
                expected[key] = expected.GetValueOrDefault(key) + 1;
            }

            using var request = new HttpRequestMessage(HttpMethod.Post, "/events/batch?ack=durable") { Content = Events.Ndjson(lines) };
            request.Headers.ConnectionClose = freshConnections;
            using var response = await ingest.SendAsync(request, ct).WaitAsync(HermesStack.StepTimeout, ct);
            Assert.True(response.IsSuccessStatusCode, $"batch {b}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
        }

        return expected;
    }

    private static async Task<SortedDictionary<string, long>> CountsFromDbAsync(
        HttpClient ingest, SortedDictionary<string, long> expected, CancellationToken ct, bool freshConnection = false)
    {
        return await Events.Eventually(
            async () =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/aggregates?source=db");
                request.Headers.ConnectionClose = freshConnection;
                using var response = await ingest.SendAsync(request, ct).WaitAsync(HermesStack.StepTimeout, ct);
                response.EnsureSuccessStatusCode();
                var counts = new SortedDictionary<string, long>(StringComparer.Ordinal);
                foreach (var property in (await response.ReadJsonAsync()).EnumerateObject())
                {
                    counts[property.Name] = property.Value.GetInt64();
                }

                return counts;
            },
            counts => counts.SequenceEqual(expected),
            TimeSpan.FromSeconds(15));
    }
}

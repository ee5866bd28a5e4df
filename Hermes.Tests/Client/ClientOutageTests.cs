using System.Net.Http.Json;
using Hermes.Tests.Infrastructure;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Hermes.Tests.Client;

/// <summary>Hermes unreachable: the client holds on to its events, says so in its health, and accounts for each one at shutdown.</summary>
public sealed class ClientOutageTests
{
    [Fact]
    public async Task While_Hermes_is_unreachable_the_batch_is_held_health_is_Degraded_and_it_is_delivered_when_Hermes_returns()
    {
        // Arrange: a port nothing listens on yet.
        var port = Ports.Free();
        await using var harness = ClientHarness.Start(new Uri($"http://127.0.0.1:{port}"));
        for (var i = 0; i < 50; i++)
        {
            harness.Client.Track("song_played", $"user-{i}", new { i });
        }

        // Act 1: the first attempts fail.
        await Events.Eventually(() => Task.FromResult(harness.Metrics.Retries("transport")), n => n >= 2);

        // Assert 1: nothing is lost or dropped, and the health check says Hermes is not taking batches.
        var health = (await harness.HealthAsync()).Entries["hermes-client"];
        Assert.Equal(HealthStatus.Degraded, health.Status);
        Assert.Contains("Hermes has not taken a batch for", health.Description, StringComparison.Ordinal);
        Assert.Contains("transport:", health.Description, StringComparison.Ordinal);
        Assert.Equal(50, harness.Client.Statistics.InFlight + harness.Client.Statistics.Buffered);

        // Act 2: Hermes starts on that port.
        await using var hermes = HermesProcess.Start(new() { ["HTTP_ADDR"] = $"127.0.0.1:{port}" });
        await hermes.WaitUntilAliveAsync(TimeSpan.FromSeconds(30));
        await harness.FlushAsync();

        // Assert 2: all 50 arrived, once; the client is healthy and said when delivery resumed.
        Assert.Equal(50, harness.Client.Statistics.Sent);
        var counts = await Events.Eventually(
            () => hermes.Client.GetFromJsonAsync<Dictionary<string, long>>("/aggregates", TestContext.Current.CancellationToken),
            c => c!.Values.Sum() == 50);
        Assert.Equal(50, counts!.Values.Sum());
        Assert.Equal(HealthStatus.Healthy, (await harness.HealthAsync()).Entries["hermes-client"].Status);
        Assert.Contains(harness.Logs.Entries, e => e.Message.StartsWith("Hermes is taking batches again after", StringComparison.Ordinal));
    }

    [Fact]
    public async Task At_shutdown_what_the_deadline_leaves_undelivered_is_counted_lost_and_later_events_are_dropped()
    {
        var port = Ports.Free();
        await using var harness = ClientHarness.Start(new Uri($"http://127.0.0.1:{port}"), s => s.ShutdownTimeout = TimeSpan.FromSeconds(1));
        for (var i = 0; i < 20; i++)
        {
            harness.Client.Track("ad_clicked", "user-1");
        }

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        await harness.Client.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(15), $"dispose took {stopping.Elapsed} with a 1 s deadline");
        var stats = harness.Client.Statistics;
        Assert.Equal((20L, 0L, 20L, 0, 0), (stats.Tracked, stats.Sent, stats.Lost, stats.Buffered, stats.InFlight));
        Assert.Equal(20, harness.Measure("hermes_client_events_lost"));
        Assert.Contains(harness.Logs.Entries, e => e.Level == LogLevel.Warning
            && e.Message.Contains("20 events were not delivered to Hermes within the shutdown deadline", StringComparison.Ordinal));

        Assert.Null(harness.Client.Track("ad_clicked", "user-1"));
        Assert.Equal(1, harness.Client.Statistics.DroppedAfterClose);
        Assert.Equal(1, harness.Measure("hermes_client_events_dropped", "reason", "closed"));
    }
}

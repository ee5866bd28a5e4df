using System.Net;
using System.Text.RegularExpressions;
using Hermes.Ingest.Telemetry;
using Hermes.Ingest.Pipeline;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Integration;

public sealed partial class ShutdownTests
{
    [Fact]
    public async Task Stopping_drains_every_accepted_event_to_the_sink()
    {
        // A slow sink and a deep queue: most events are still queued when shutdown begins.
        var sink = new RecordingSink(delay: TimeSpan.FromMilliseconds(20));
        var hermes = new HermesFactory(new() { ["WORKER_COUNT"] = "2", ["BATCH_SIZE"] = "50", ["QUEUE_SIZE"] = "100000" }).WithSink(sink);
        var client = hermes.Start();
        var ids = new HashSet<string>();
        for (var request = 0; request < 40; request++)
        {
            var events = Enumerable.Range(0, 100).Select(i => $"d-{request}-{i}").ToList();
            var response = await client.PostAsync("/events/batch", Events.Array(events.Select(id => Events.Json(id))), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            ids.UnionWith(events);
        }

        var metrics = hermes.Service<IngestMetrics>();
        Assert.True(hermes.Service<EventQueue>().Length > 0, "the test needs events still queued at shutdown");

        await hermes.DisposeAsync();

        Assert.Equal(4000, metrics.Accepted);
        Assert.Equal(metrics.Accepted, metrics.Flushed);
        Assert.Equal(ids.Order(), sink.Events.Select(e => e.Id).Order());
        Assert.Equal(1, sink.FlushCount);
    }

    [Fact]
    public async Task Closed_intake_answers_503_and_health_reports_not_ready()
    {
        await using var hermes = new HermesFactory();
        var client = hermes.Start();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health", TestContext.Current.CancellationToken)).StatusCode);

        hermes.Service<IntakeGate>().Close();

        var post = await client.PostAsync("/events", Events.Body(Events.Json("late")), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, post.StatusCode);
        Assert.NotNull(post.Headers.RetryAfter);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/health", TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/alive", TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(1, hermes.Service<IngestMetrics>().Rejected(RejectReason.ShuttingDown));
    }

    [Fact]
    public async Task Sigterm_drains_logs_the_count_and_exits_zero()
    {
        await using var hermes = HermesProcess.Start(new() { ["SHUTDOWN_TIMEOUT"] = "10s", ["FLUSH_INTERVAL"] = "1h", ["BATCH_SIZE"] = "100000" });
        await hermes.WaitUntilAliveAsync(TimeSpan.FromSeconds(30));
        for (var i = 0; i < 20; i++)
        {
            var response = await hermes.Client.PostAsync("/events/batch", Events.Ndjson(Enumerable.Range(0, 50).Select(j => Events.Json($"t-{i}-{j}"))), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        hermes.Signal(HermesProcess.SIGTERM);
        var exitCode = await hermes.WaitForExitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(0, exitCode);
        var drained = DrainedLine().Match(hermes.StandardOutput);
        Assert.True(drained.Success, hermes.StandardOutput);
        // FLUSH_INTERVAL=1h and a huge batch: nothing could reach the sink before SIGTERM, so all 1000 are drained then.
        Assert.Equal("1000", drained.Groups["drained"].Value);
        Assert.Equal("1000", drained.Groups["accepted"].Value);
        Assert.Equal("1000", drained.Groups["flushed"].Value);
    }

    [GeneratedRegex(@"Drained (?<drained>\d+) events in \d+ ms; (?<accepted>\d+) accepted and (?<flushed>\d+) flushed")]
    private static partial Regex DrainedLine();
}

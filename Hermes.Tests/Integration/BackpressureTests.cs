using System.Net;
using Hermes.Ingest.Telemetry;
using Hermes.Ingest.Pipeline;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Integration;

/// <summary>A held sink stops the workers, so the queue fills and backpressure shows.</summary>
public sealed class BackpressureTests
{
    private static Dictionary<string, string?> Settings(string mode, string extra = "") => new()
    {
        ["QUEUE_SIZE"] = "10",
        ["WORKER_COUNT"] = "1",
        ["BATCH_SIZE"] = "5",
        ["FLUSH_INTERVAL"] = "10ms",
        ["BACKPRESSURE_MODE"] = mode,
        ["BLOCK_TIMEOUT"] = extra.Length > 0 ? extra : "1s",
    };

    /// <summary>Fills the pipeline: the worker holds one batch of 5 at the sink and the queue holds 10.</summary>
    private static async Task FillAsync(HttpClient client, HermesFactory hermes)
    {
        var first = await client.PostAsync("/events/batch", Events.Array(Enumerable.Range(0, 5).Select(i => Events.Json($"w-{i}"))));
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        var queue = hermes.Service<EventQueue>();
        await Events.Eventually(() => Task.FromResult(queue.Length), length => length == 0);
        var second = await client.PostAsync("/events/batch", Events.Array(Enumerable.Range(0, 10).Select(i => Events.Json($"q-{i}"))));
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        Assert.Equal(10, queue.Length);
    }

    [Fact]
    public async Task Strict_mode_answers_503_with_Retry_After_when_the_queue_is_full()
    {
        var sink = new RecordingSink(held: true);
        await using var hermes = new HermesFactory(Settings("strict")).WithSink(sink);
        var client = hermes.Start();
        await FillAsync(client, hermes);

        var response = await client.PostAsync("/events", Events.Body(Events.Json("overflow")), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var retryAfter = response.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter.Value.TotalSeconds, 1, 30);
        var problem = await response.ReadJsonAsync();
        Assert.Equal("urn:hermes:problem:queue-full", problem.GetProperty("type").GetString());
        Assert.Equal(1, hermes.Service<IngestMetrics>().Rejected(RejectReason.QueueFull));
        sink.Open();
    }

    [Fact]
    public async Task Batch_that_does_not_fit_is_refused_whole_and_leaves_the_queue_unchanged()
    {
        var sink = new RecordingSink(held: true);
        await using var hermes = new HermesFactory(Settings("strict")).WithSink(sink);
        var client = hermes.Start();
        var queue = hermes.Service<EventQueue>();
        await client.PostAsync("/events/batch", Events.Array(Enumerable.Range(0, 5).Select(i => Events.Json($"w-{i}"))), TestContext.Current.CancellationToken);
        await Events.Eventually(() => Task.FromResult(queue.Length), length => length == 0);
        await client.PostAsync("/events/batch", Events.Array(Enumerable.Range(0, 7).Select(i => Events.Json($"q-{i}"))), TestContext.Current.CancellationToken);

        // 3 free slots; 4 valid events and 1 invalid one.
        var batch = Events.Array([.. Enumerable.Range(0, 4).Select(i => Events.Json($"x-{i}")), Events.Json("bad", type: "nope")]);
        var response = await client.PostAsync("/events/batch", batch, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Equal(7, queue.Length);
        sink.Open();
        await Events.Eventually(() => Task.FromResult(sink.Events.Count), c => c == 12);
        Assert.DoesNotContain(sink.Events, e => e.Id.StartsWith("x-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Block_mode_waits_for_room_and_then_accepts()
    {
        var sink = new RecordingSink(held: true);
        await using var hermes = new HermesFactory(Settings("block", "10s")).WithSink(sink);
        var client = hermes.Start();
        await FillAsync(client, hermes);

        var pending = client.PostAsync("/events", Events.Body(Events.Json("patient")), TestContext.Current.CancellationToken);
        await Task.Delay(300, TestContext.Current.CancellationToken);
        Assert.False(pending.IsCompleted, "block mode should wait while the queue is full");
        sink.Open();
        var response = await pending;

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await Events.Eventually(() => Task.FromResult(sink.Events.Count), c => c == 16);
        Assert.Contains(sink.Events, e => e.Id == "patient");
    }

    [Fact]
    public async Task Block_mode_answers_503_after_the_block_timeout()
    {
        var sink = new RecordingSink(held: true);
        await using var hermes = new HermesFactory(Settings("block", "200ms")).WithSink(sink);
        var client = hermes.Start();
        await FillAsync(client, hermes);

        var started = DateTime.UtcNow;
        var response = await client.PostAsync("/events", Events.Body(Events.Json("impatient")), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromMilliseconds(150));
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Contains("after waiting", (await response.ReadJsonAsync()).GetProperty("detail").GetString());
        sink.Open();
    }

    [Fact]
    public async Task Full_queue_in_strict_mode_refuses_before_reading_the_body()
    {
        var sink = new RecordingSink(held: true);
        await using var hermes = new HermesFactory(Settings("strict")).WithSink(sink);
        var client = hermes.Start();
        await FillAsync(client, hermes);

        // Not even valid JSON: a full queue answers 503 before the body is parsed.
        var response = await client.PostAsync("/events/batch", Events.Body("not json at all"), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(0, hermes.Service<IngestMetrics>().Rejected(RejectReason.Malformed));
        sink.Open();
    }
}

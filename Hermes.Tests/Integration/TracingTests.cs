using System.Collections.Concurrent;
using System.Diagnostics;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Integration;

/// <summary>A batch's flush span joins the trace of the POST that carried its events, and links the others.</summary>
public sealed class TracingTests : IDisposable
{
    private readonly ConcurrentBag<Activity> _stopped = [];
    private readonly ActivityListener _listener;

    public TracingTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Hermes" or "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Add,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task Flush_span_is_a_child_of_the_intake_request_and_links_the_other_requests_in_its_batch()
    {
        // Two requests, one batch: BATCH_SIZE=2 with one worker.
        await using var hermes = new HermesFactory(new() { ["WORKER_COUNT"] = "1", ["BATCH_SIZE"] = "2", ["FLUSH_INTERVAL"] = "1h" });
        var client = hermes.Start();
        var first = ActivityTraceId.CreateRandom();
        var second = ActivityTraceId.CreateRandom();

        foreach (var (trace, id) in new[] { (first, "t-1"), (second, "t-2") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/events") { Content = Events.Body(Events.Json(id)) };
            request.Headers.Add("traceparent", $"00-{trace}-{ActivitySpanId.CreateRandom()}-01");
            Assert.Equal(System.Net.HttpStatusCode.Accepted, (await client.SendAsync(request, TestContext.Current.CancellationToken)).StatusCode);
        }

        var deadline = DateTime.UtcNow.AddSeconds(10);
        Activity? flush;
        while ((flush = _stopped.FirstOrDefault(a => a.OperationName == "hermes.flush" && a.TraceId == first)) is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        Assert.NotNull(flush);
        var intake = _stopped.Single(a => a.Source.Name == "Microsoft.AspNetCore" && a.TraceId == first);
        Assert.Equal(intake.SpanId, flush.ParentSpanId);
        Assert.Equal(2, flush.GetTagItem("hermes.batch.size"));
        Assert.Contains(flush.Links, link => link.Context.TraceId == second);
    }
}

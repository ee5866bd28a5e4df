using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Postgres;
using Microsoft.Extensions.DependencyInjection;

namespace Hermes.Tests.Integration;

/// <summary>A batch's flush span joins the trace of the POST that carried its events, links the others, and the COPY runs under it.</summary>
[Collection(PostgresCollection.Name)]
public sealed class TracingTests : IDisposable
{
    private readonly ConcurrentBag<Activity> _stopped = [];
    private readonly ActivityListener _listener;
    private readonly SharedPostgres _postgres;

    public TracingTests(SharedPostgres postgres)
    {
        _postgres = postgres;
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Hermes" or "Microsoft.AspNetCore" or "Npgsql",
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

        await PostTracedAsync(client, "/events", first, "t-1");
        await PostTracedAsync(client, "/events", second, "t-2");

        var flush = await WaitForAsync(a => a.OperationName == "hermes.flush" && a.TraceId == first);
        var intake = _stopped.Single(a => a.Source.Name == "Microsoft.AspNetCore" && a.TraceId == first);
        Assert.Equal(intake.SpanId, flush.ParentSpanId);
        Assert.Equal(2, flush.GetTagItem("hermes.batch.size"));
        Assert.Contains(flush.Links, link => link.Context.TraceId == second);
    }

    [Theory]
    [InlineData("/events", "PostEvent")]
    [InlineData("/events/batch", "PostEventBatch")]
    public async Task Endpoints_are_named_after_the_route_as_documented_which_names_their_spans(string path, string endpointName)
    {
        await using var hermes = new HermesFactory();
        hermes.Start();

        // OpenTelemetry's ASP.NET instrumentation names a request span "<method> <RoutePattern.RawText>" and sets it
        // as http.route; a trailing slash here showed as "POST /events/" in every trace.
        var endpoint = hermes.Services.GetRequiredService<Microsoft.AspNetCore.Routing.EndpointDataSource>().Endpoints
            .OfType<Microsoft.AspNetCore.Routing.RouteEndpoint>()
            .Single(e => e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.IEndpointNameMetadata>()?.EndpointName == endpointName);
        Assert.Equal(path, endpoint.RoutePattern.RawText);
        Assert.Equal($"HTTP: POST {path}", endpoint.DisplayName);
    }

    [Fact]
    public async Task With_postgres_the_copy_runs_inside_the_flush_span_of_the_posting_requests_trace()
    {
        var db = await _postgres.Server.CreateDatabaseAsync();
        var spill = Path.Combine(Path.GetTempPath(), "hermes-spill-" + Guid.NewGuid().ToString("N")[..12]);
        await using var hermes = new HermesFactory(new() { ["DB_DSN"] = db, ["SPILL_DIR"] = spill, ["WORKER_COUNT"] = "1" });
        var client = hermes.Start();
        var trace = ActivityTraceId.CreateRandom();

        // Durable: the answer comes after the commit, so every span of the batch has ended by then.
        await PostTracedAsync(client, "/events?ack=durable", trace, "traced-copy", HttpStatusCode.OK);

        var flush = await WaitForAsync(a => a.OperationName == "hermes.flush" && a.TraceId == trace);
        var database = _stopped.Where(a => a.Source.Name == "Npgsql" && a.TraceId == trace).ToList();
        Assert.NotEmpty(database);
        Assert.All(database, a => Assert.True(a.ParentSpanId == flush.SpanId || database.Any(p => p.SpanId == a.ParentSpanId),
            $"{a.DisplayName} is not under hermes.flush"));
        await hermes.DisposeAsync();
        Directory.Delete(spill, recursive: true);
    }

    [Fact]
    public async Task An_event_sent_again_leaves_no_error_span_whether_its_batch_was_copied_or_inserted()
    {
        var db = await _postgres.Server.CreateDatabaseAsync();
        var spill = Path.Combine(Path.GetTempPath(), "hermes-spill-" + Guid.NewGuid().ToString("N")[..12]);
        await using var hermes = new HermesFactory(new() { ["DB_DSN"] = db, ["SPILL_DIR"] = spill, ["WORKER_COUNT"] = "1" });
        var client = hermes.Start();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var batch = Enumerable.Range(0, 300).Select(i => Events.Json($"again-{i}", timestamp: now)).ToList();
        ActivityTraceId copied = ActivityTraceId.CreateRandom(), copiedAgain = ActivityTraceId.CreateRandom(), single = ActivityTraceId.CreateRandom();

        // A full batch, then the same batch plus one new event (COPY finds them stored), then one event twice (inserted).
        await PostTracedAsync(client, "/events/batch?ack=durable", copied, Events.Ndjson(batch), HttpStatusCode.OK);
        await PostTracedAsync(client, "/events/batch?ack=durable", copiedAgain, Events.Ndjson(batch.Append(Events.Json("new-one", timestamp: now))), HttpStatusCode.OK);
        await PostTracedAsync(client, "/events?ack=durable", single, Events.Body(Events.Json("again-0", timestamp: now)), HttpStatusCode.OK);

        Assert.Equal(301L, await Database.ScalarAsync<long>(db, "SELECT count(*) FROM events"));
        Assert.Equal(301m, await Database.ScalarAsync<decimal>(db, "SELECT sum(count) FROM event_rollups"));
        var retriedCopy = await WaitForAsync(a => a.OperationName == "COPY events" && a.TraceId == copiedAgain);
        Assert.Equal("already-stored", retriedCopy.GetTagItem("hermes.copy.outcome"));
        var spans = _stopped.Where(a => a.TraceId == copied || a.TraceId == copiedAgain || a.TraceId == single).ToList();
        Assert.Contains(spans, a => a.Source.Name == "Npgsql" && a.TraceId == single);
        Assert.DoesNotContain(spans, a => a.Status == ActivityStatusCode.Error);
        await hermes.DisposeAsync();
        Directory.Delete(spill, recursive: true);
    }

    private static Task PostTracedAsync(HttpClient client, string path, ActivityTraceId trace, string id, HttpStatusCode expected = HttpStatusCode.Accepted) =>
        PostTracedAsync(client, path, trace, Events.Body(Events.Json(id)), expected);

    private static async Task PostTracedAsync(HttpClient client, string path, ActivityTraceId trace, HttpContent content, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        request.Headers.Add("traceparent", $"00-{trace}-{ActivitySpanId.CreateRandom()}-01");
        Assert.Equal(expected, (await client.SendAsync(request, TestContext.Current.CancellationToken)).StatusCode);
    }

    private async Task<Activity> WaitForAsync(Func<Activity, bool> match)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        Activity? found;
        while ((found = _stopped.FirstOrDefault(match)) is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        return found ?? throw new Xunit.Sdk.XunitException("no matching span was recorded");
    }
}

using System.Diagnostics;
using Hermes.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Hermes.Tests.Integration;

/// <summary>A batch's flush span joins the trace of the POST that carried its events and links the others (COPY under it: Postgres/PostgresTracingTests).</summary>
public sealed class TracingTests : IDisposable
{
    private readonly SpanRecorder _spans = new();

    public void Dispose() => _spans.Dispose();

    [Fact]
    public async Task Flush_span_is_a_child_of_the_intake_request_and_links_the_other_requests_in_its_batch()
    {
        // Two requests, one batch: BATCH_SIZE=2 with one worker.
        await using var hermes = new HermesFactory(new() { ["WORKER_COUNT"] = "1", ["BATCH_SIZE"] = "2", ["FLUSH_INTERVAL"] = "1h" });
        var client = hermes.Start();
        var first = ActivityTraceId.CreateRandom();
        var second = ActivityTraceId.CreateRandom();

        await SpanRecorder.PostTracedAsync(client, "/events", first, "t-1");
        await SpanRecorder.PostTracedAsync(client, "/events", second, "t-2");

        var flush = await _spans.WaitForAsync(a => a.OperationName == "hermes.flush" && a.TraceId == first);
        var intake = _spans.Stopped.Single(a => a.Source.Name == "Microsoft.AspNetCore" && a.TraceId == first);
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
}

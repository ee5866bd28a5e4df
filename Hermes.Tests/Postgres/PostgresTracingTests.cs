using System.Diagnostics;
using System.Net;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;

namespace Hermes.Tests.Postgres;

/// <summary>With PostgreSQL, the COPY runs under the flush span of the posting request's trace, and a retried batch leaves no error span.</summary>
[NeedsPostgresServer]
[Collection(PostgresCollection.Name)]
public sealed class PostgresTracingTests(SharedPostgres postgres) : IDisposable
{
    private readonly SpanRecorder _spans = new();

    public void Dispose() => _spans.Dispose();

    [Fact]
    public async Task With_postgres_the_copy_runs_inside_the_flush_span_of_the_posting_requests_trace()
    {
        var db = await postgres.Server.CreateDatabaseAsync();
        using var spill = new TempDirectory("spill");
        await using var hermes = new HermesFactory(new() { ["DB_DSN"] = db, ["SPILL_DIR"] = spill.Path, ["WORKER_COUNT"] = "1" });
        var client = hermes.Start();
        var trace = ActivityTraceId.CreateRandom();

        // Durable: the answer comes after the commit, so every span of the batch has ended by then.
        await SpanRecorder.PostTracedAsync(client, "/events?ack=durable", trace, "traced-copy", HttpStatusCode.OK);

        var flush = await _spans.WaitForAsync(a => a.OperationName == "hermes.flush" && a.TraceId == trace);
        var database = _spans.Stopped.Where(a => a.Source.Name == "Npgsql" && a.TraceId == trace).ToList();
        Assert.NotEmpty(database);
        Assert.All(database, a => Assert.True(a.ParentSpanId == flush.SpanId || database.Any(p => p.SpanId == a.ParentSpanId),
            $"{a.DisplayName} is not under hermes.flush"));
        await hermes.DisposeAsync();
    }

    [Fact]
    public async Task An_event_sent_again_leaves_no_error_span_whether_its_batch_was_copied_or_inserted()
    {
        var db = await postgres.Server.CreateDatabaseAsync();
        using var spill = new TempDirectory("spill");
        await using var hermes = new HermesFactory(new() { ["DB_DSN"] = db, ["SPILL_DIR"] = spill.Path, ["WORKER_COUNT"] = "1" });
        var client = hermes.Start();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var batch = Enumerable.Range(0, 300).Select(i => Events.Json($"again-{i}", timestamp: now)).ToList();
        ActivityTraceId copied = ActivityTraceId.CreateRandom(), copiedAgain = ActivityTraceId.CreateRandom(), single = ActivityTraceId.CreateRandom();

        // A full batch, then the same batch plus one new event (COPY finds them stored), then one event twice (inserted).
        await SpanRecorder.PostTracedAsync(client, "/events/batch?ack=durable", copied, Events.Ndjson(batch), HttpStatusCode.OK);
        await SpanRecorder.PostTracedAsync(client, "/events/batch?ack=durable", copiedAgain, Events.Ndjson(batch.Append(Events.Json("new-one", timestamp: now))), HttpStatusCode.OK);
        await SpanRecorder.PostTracedAsync(client, "/events?ack=durable", single, Events.Body(Events.Json("again-0", timestamp: now)), HttpStatusCode.OK);

        Assert.Equal(301L, await Database.ScalarAsync<long>(db, "SELECT count(*) FROM events"));
        Assert.Equal(301m, await Database.ScalarAsync<decimal>(db, "SELECT sum(count) FROM event_rollups"));
        var retriedCopy = await _spans.WaitForAsync(a => a.OperationName == "COPY events" && a.TraceId == copiedAgain);
        Assert.Equal("already-stored", retriedCopy.GetTagItem("hermes.copy.outcome"));
        var spans = _spans.Stopped.Where(a => a.TraceId == copied || a.TraceId == copiedAgain || a.TraceId == single).ToList();
        Assert.Contains(spans, a => a.Source.Name == "Npgsql" && a.TraceId == single);
        Assert.DoesNotContain(spans, a => a.Status == ActivityStatusCode.Error);
        await hermes.DisposeAsync();
    }
}

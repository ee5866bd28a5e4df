using Hermes.Ingest.Apis;
using Hermes.Ingest.Security;

namespace Hermes.Ingest.Diagnostics;

/// <summary>The live view: one snapshot (<c>/stats</c>) or a Server-Sent Events stream of them (<c>/aggregates/stream</c>).</summary>
public static class StatsApi
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();

    public static IEndpointRouteBuilder MapStatsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/stats", static (HttpContext context, LiveStats stats) =>
            {
                context.Response.ContentType = "application/json";
                return context.Response.Body.WriteAsync(stats.Latest, context.RequestAborted).AsTask();
            })
            .RequireApiKey(KeyScope.Read)
            .WithTags("Aggregates")
            .WithName("GetStats")
            .WithSummary("Pipeline snapshot: rates, queue, workers, flush latency, rejections, sink state and the last hour of per-minute counts")
            .Produces(StatusCodes.Status200OK, contentType: "application/json");

        app.MapGet("/aggregates/stream", StreamAsync)
            .RequireApiKey(KeyScope.Read)
            .WithTags("Aggregates")
            .WithName("StreamStats")
            .WithSummary("The /stats snapshot pushed once a second as Server-Sent Events (text/event-stream)")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream");

        return app;
    }

    private static async Task StreamAsync(HttpContext context, LiveStats stats, IHostApplicationLifetime lifetime)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        try
        {
            var snapshot = stats.Latest;
            while (true)
            {
                await response.Body.WriteAsync(DataPrefix, stop.Token);
                await response.Body.WriteAsync(snapshot, stop.Token);
                await response.Body.WriteAsync(EventEnd, stop.Token);
                await response.Body.FlushAsync(stop.Token);
                snapshot = await stats.NextAsync(stop.Token);
            }
        }
        catch (OperationCanceledException)
        {
            // The client went away, or Hermes is shutting down: end the stream so shutdown is not held up.
        }
    }
}

using Hermes.Dashboard.Live;
using Hermes.Dashboard.Views;

namespace Hermes.Dashboard.Apis;

/// <summary>CSV download of the aggregates table, served from the feed's current state (no call to ingest).</summary>
public static class ExportApi
{
    public static IEndpointRouteBuilder MapExportApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/export/aggregates.csv", ExportCsv)
            .WithName("ExportAggregatesCsv")
            .WithSummary("Per-minute counts by type as CSV, filtered by type and by the last N minutes");

        return app;
    }

    private static IResult ExportCsv(ILiveFeed feed, TimeProvider time, string? type, int? minutes)
    {
        var state = feed.Current;
        var now = state.NowMinute(time);
        var from = now - ((Math.Clamp(minutes ?? 60, 1, 24 * 60) - 1) * 60L);
        var rows = state.Counts.Filter(string.IsNullOrEmpty(type) ? null : type, from, now);
        var csv = AggregatesCsv.Write(rows);
        return TypedResults.File(System.Text.Encoding.UTF8.GetBytes(csv), "text/csv; charset=utf-8", $"hermes-aggregates-{Format.Iso(now).Replace(':', '-')}.csv");
    }
}

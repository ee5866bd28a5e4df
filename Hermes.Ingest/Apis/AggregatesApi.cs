using System.Globalization;
using System.Text.Json;
using Hermes.Ingest.Aggregation;
using Hermes.Ingest.Events;
using Hermes.Ingest.Security;
using Microsoft.AspNetCore.Mvc;

namespace Hermes.Ingest.Apis;

public static class AggregatesApi
{
    public static IEndpointRouteBuilder MapAggregatesApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/aggregates", GetAggregatesAsync)
            .RequireApiKey(KeyScope.Read)
            .WithTags("Aggregates")
            .WithName("GetAggregates")
            .WithSummary("Counts per event type per minute")
            .WithDescription("A JSON object keyed \"<type>:<minute>\", where <minute> is the Unix second that starts the event timestamp's minute, e.g. {\"song_played:1699999980\": 42}. Filters: type, from and to (Unix seconds, inclusive, matched against the minute). source=db answers from the rollups persisted in PostgreSQL (totals across restarts and replicas) instead of this instance's memory.")
            .Produces<Dictionary<string, long>>(StatusCodes.Status200OK, "application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        return app;
    }

    /// <param name="type">Only this event type.</param>
    /// <param name="from">Only minutes at or after this Unix second.</param>
    /// <param name="to">Only minutes at or before this Unix second.</param>
    /// <param name="source"><c>memory</c> (default): this instance's counts; <c>db</c>: the persisted rollups.</param>
    /// <param name="persisted">The durable store's counts; null when the sink keeps none.</param>
    private static async Task GetAggregatesAsync(HttpContext context, MinuteAggregator aggregator, EventTypeCatalog types, [FromServices] IPersistedCounts? persisted,
        string? type = null, string? from = null, string? to = null, string? source = null)
    {
        if (source is not (null or "memory" or "db"))
        {
            await Problems.InvalidQuery("source", "allowed-values", "'source' must be memory or db.").WriteAsync(context);
            return;
        }

        if (type is not null && !types.TryFind(type, out _))
        {
            await Problems.InvalidQuery("type", "allowed-values", $"'type' must be one of {types.AllowedList}.").WriteAsync(context);
            return;
        }

        if (!TryParseSeconds(from, out var fromSeconds))
        {
            await BadSecondsAsync(context, "from", from!);
            return;
        }

        if (!TryParseSeconds(to, out var toSeconds))
        {
            await BadSecondsAsync(context, "to", to!);
            return;
        }

        List<AggregateCount> counts;
        if (source == "db")
        {
            if (persisted is null)
            {
                await Problems.InvalidQuery("source", "requires-database", "source=db needs a database: set DB_DSN or ConnectionStrings:hermesdb.").WriteAsync(context);
                return;
            }

            try
            {
                counts = await persisted.ReadAsync(type, fromSeconds, toSeconds, context.RequestAborted);
            }
            catch (CountsUnavailableException)
            {
                await Problems.DatabaseUnavailable().WriteAsync(context);
                return;
            }
        }
        else
        {
            counts = aggregator.Snapshot(type, fromSeconds, toSeconds);
        }

        context.Response.ContentType = "application/json";
        using (var json = new Utf8JsonWriter(context.Response.BodyWriter))
        {
            WriteCounts(json, counts);
        }

        await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
    }

    /// <summary>The seed's shape: <c>{"song_played:1699999980": 42, …}</c>, written straight into the response.</summary>
    private static void WriteCounts(Utf8JsonWriter json, IEnumerable<AggregateCount> counts)
    {
        json.WriteStartObject();
        Span<char> key = stackalloc char[96];
        foreach (var (type, minute, count) in counts)
        {
            type.CopyTo(key);
            key[type.Length] = ':';
            minute.TryFormat(key[(type.Length + 1)..], out var written, default, CultureInfo.InvariantCulture);
            json.WriteNumber(key[..(type.Length + 1 + written)], count);
        }

        json.WriteEndObject();
    }

    private static bool TryParseSeconds(string? text, out long? seconds)
    {
        seconds = null;
        if (text is null)
        {
            return true;
        }

        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= 0)
        {
            seconds = value;
            return true;
        }

        return false;
    }

    private static Task BadSecondsAsync(HttpContext context, string field, string value) =>
        Problems.InvalidQuery(field, "integer", $"'{field}' must be Unix seconds as a non-negative integer, not '{value}'.").WriteAsync(context);
}

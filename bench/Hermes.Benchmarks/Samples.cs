using System.Text;
using Hermes.Ingest.Configuration;
using Hermes.Ingest.Events;
using Microsoft.Extensions.Options;

namespace Hermes.Benchmarks;

/// <summary>The same event shape the wrk scripts send.</summary>
public static class Samples
{
    public static readonly IngestOptions Options = new();
    public static readonly IOptions<IngestOptions> Settings = Microsoft.Extensions.Options.Options.Create(Options);
    public static readonly EventTypeCatalog Types = new(Settings);
    public static readonly long Now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public static string Json(int i) =>
        $$$"""{"id":"bench-{{{i}}}-0123456789","user_id":"user-{{{i % 1000}}}","type":"{{{Types.Names[i % 4]}}}","timestamp":{{{Now - (i % 120)}}},"payload":{"k":1,"song":"s-{{{i}}}"}}""";

    public static byte[] Single() => Encoding.UTF8.GetBytes(Json(42));

    public static byte[] Ndjson(int events) => Encoding.UTF8.GetBytes(string.Join('\n', Enumerable.Range(0, events).Select(Json)));

    public static EventRecord[] Records(int events)
    {
        var parser = new EventParser(Settings, Types);
        return [.. Enumerable.Range(0, events).Select(i =>
        {
            parser.TryParseDocument(Encoding.UTF8.GetBytes(Json(i)), Now, Now * 1000, out var record, out _);
            return record;
        })];
    }
}

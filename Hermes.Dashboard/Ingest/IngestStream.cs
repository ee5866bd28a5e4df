using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Hermes.Contracts;

namespace Hermes.Dashboard.Ingest;

/// <summary>
/// Reads <c>GET /aggregates/stream</c> (Server-Sent Events, one snapshot a second). Its HttpClient has no
/// resilience handler and no timeout: the standard handler's 30 s total timeout would cut a healthy stream, and
/// retries make no sense mid-stream; <see cref="Live.LiveFeed"/> reconnects instead.
/// </summary>
public sealed class IngestStream(HttpClient http)
{
    public async IAsyncEnumerable<StatsSnapshot> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/aggregates/stream", UriKind.Relative));
        request.Headers.Accept.ParseAdd("text/event-stream");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.StatusCode == System.Net.HttpStatusCode.Unauthorized)
        {
            throw new HttpRequestException(
                "ingest refused the dashboard's read key (401): set INGEST_API_KEY to one of ingest's READ_API_KEYS",
                null, response.StatusCode);
        }

        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);

        var parser = SseParser.Create(body, static (_, data) => JsonSerializer.Deserialize(data, ContractsJsonContext.Default.StatsSnapshot));
        await foreach (var item in parser.EnumerateAsync(cancellationToken))
        {
            if (item.Data is { } snapshot)
            {
                yield return snapshot;
            }
        }
    }
}

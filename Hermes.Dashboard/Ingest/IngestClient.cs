using System.Net;
using System.Net.Http.Json;
using Hermes.Contracts;

namespace Hermes.Dashboard.Ingest;

/// <summary>
/// Request/response calls to ingest, through the standard resilience handler (retries, timeouts) from
/// ServiceDefaults. The base address is the service-discovery name <c>https+http://ingest</c>.
/// </summary>
public sealed class IngestClient(HttpClient http)
{
    /// <summary>
    /// Persisted per-minute rollups across every ingest replica (<c>/aggregates?source=db</c>), or <see langword="null"/>
    /// when ingest has no database (it answers 4xx).
    /// </summary>
    public async Task<Dictionary<string, long>?> GetPersistedAggregatesAsync(long fromUnixSeconds, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(new Uri($"/aggregates?source=db&from={fromUnixSeconds}", UriKind.Relative), cancellationToken);
        if (response.StatusCode is >= HttpStatusCode.BadRequest and < HttpStatusCode.InternalServerError)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.DictionaryStringInt64, cancellationToken) ?? [];
    }
}

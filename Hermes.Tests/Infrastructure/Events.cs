using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Hermes.Tests.Infrastructure;

/// <summary>Builds request bodies the way producers send them.</summary>
public static class Events
{
    public const long Timestamp = 1_700_000_000; // minute bucket 1699999980

    public static string Json(string id, string type = "song_played", long timestamp = Timestamp, string user = "user-1", string payload = "{\"k\":1}") =>
        $$"""{"id":"{{id}}","user_id":"{{user}}","type":"{{type}}","timestamp":{{timestamp}},"payload":{{payload}}}""";

    public static StringContent Body(string json, string contentType = "application/json") =>
        new(json, Encoding.UTF8, new MediaTypeHeaderValue(contentType));

    public static StringContent Ndjson(IEnumerable<string> lines) => Body(string.Join('\n', lines), "application/x-ndjson");

    public static StringContent Array(IEnumerable<string> events) => Body("[" + string.Join(',', events) + "]");

    public static async Task<JsonElement> ReadJsonAsync(this HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    public static async Task<T> Eventually<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var value = await probe();
            if (done(value) || DateTime.UtcNow > deadline)
            {
                return value;
            }

            await Task.Delay(20);
        }
    }
}

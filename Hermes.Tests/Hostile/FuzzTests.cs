using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CsCheck;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Hostile;

/// <summary>
/// Mutates valid events and batches, and methods, paths and query strings (seeded, so a failure replays), and sends
/// thousands of them: every answer must be 2xx or a 4xx problem+json, never a 5xx, and Hermes must still be healthy
/// and accepting afterwards.
/// </summary>
public sealed class FuzzTests() : HermesTest(new()
{
    ["MAX_EVENT_BYTES"] = "65536",
    ["MAX_BATCH_EVENTS"] = "200",
    ["DEBUG_ENDPOINTS"] = "true",
    ["ADMIN_API_KEYS"] = Integration.ErrorContractTests.AdminKey,
})
{
    private const int Cases = 3_000;

    private static readonly string[] Fragments =
    [
        "\0", "\\u0000", "\u0001", "\"", "\\", "{", "}", "[", "]", ",", ":", "null", "true", "-1", "1e999", "1.5",
        "99999999999999999999999", "\"timestamp\":", "\"id\":", "\"id\":\"x\",\"id\":\"y\",", "\ud83d", "\uFFFF",
        new string('[', 100), new string('{', 40), "\"" + new string('a', 5000) + "\"", "\r\n", "\n\n\n", " ",
    ];

    private static readonly byte[][] RawBytes = [[0xFF], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xE2, 0x82]];

    private static readonly Gen<byte[]> Mutated =
        from seed in Gen.Int[0, 1_000_000]
        from events in Gen.Int[1, 5]
        from mutations in Gen.Int[1, 4]
        from kinds in Gen.Int[0, 5].Array[mutations]
        from positions in Gen.Double[0, 1].Array[mutations]
        from lengths in Gen.Int[0, 40].Array[mutations]
        from fragments in Gen.Int[0, Fragments.Length - 1].Array[mutations]
        from raws in Gen.Int[0, RawBytes.Length - 1].Array[mutations]
        from shape in Gen.Int[0, 2]
        select Mutate(seed, events, kinds, positions, lengths, fragments, raws, shape);

    [Fact]
    public async Task Thousands_of_mutated_events_and_batches_never_get_a_5xx()
    {
        var statuses = new Dictionary<int, int>();
        await Mutated.SampleAsync(async body =>
        {
            // The shape byte picks the endpoint: one event, a JSON array, or NDJSON.
            var (path, contentType) = body[0] switch
            {
                0 => ("/events", "application/json"),
                1 => ("/events/batch", "application/json"),
                _ => ("/events/batch", "application/x-ndjson"),
            };
            using var content = new ByteArrayContent(body, 1, body.Length - 1);
            content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
            using var response = await Client.PostAsync(path, content);
            var status = (int)response.StatusCode;
            lock (statuses)
            {
                statuses[status] = statuses.GetValueOrDefault(status) + 1;
            }

            Assert.True(status < 500, $"{status} for {Encoding.UTF8.GetString(body, 1, body.Length - 1)}: {await response.Content.ReadAsStringAsync()}");
            if (status >= 400)
            {
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            }
        }, seed: "0N0XIzNsQ0O2", iter: Cases, threads: 2);

        // Both outcomes must occur, or the generator is not exercising anything.
        Assert.Contains(statuses.Keys, s => s is 202);
        Assert.Contains(statuses.Keys, s => s is 400);
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync("/health", TestContext.Current.CancellationToken)).StatusCode);
        var after = await Client.PostAsync("/events", Events.Body(Events.Json("after-fuzz")), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, after.StatusCode);
    }

    private static readonly string[] Methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

    // /aggregates/stream (never ends), /debug/trace and /debug/dump (seconds of work each) are left out, and so is a
    // NUL in the path: Kestrel refuses that request line itself (an empty 400) before any middleware runs.
    private static readonly string[] Paths =
    [
        "/events", "/events/batch", "/events/", "/events/batch/x", "/aggregates", "/stats", "/metrics", "/health", "/alive",
        "/openapi/v1.json", "/debug/counters", "/debug", "/", "/nope", "/events%2Fbatch", "/AGGREGATES", "/a/b/c/d", "/%C3%28",
    ];

    private static readonly string[] Queries =
    [
        "", "?", "?seconds=x", "?seconds=NaN", "?seconds=-", "?seconds=1e", "?seconds=0.1", "?from=abc", "?to=1.5", "?type=zz",
        "?source=x", "?source=db", "?ack=maybe", "?ack=durable", "?from=1&from=2", "?%ZZ=1", "?type=%00",
    ];

    private static readonly Gen<(string Method, string Path, string Query, bool Key, bool Body)> Requests =
        from method in Gen.Int[0, Methods.Length - 1]
        from path in Gen.Int[0, Paths.Length - 1]
        from query in Gen.Int[0, Queries.Length - 1]
        from key in Gen.Bool
        from body in Gen.Bool
        select (Methods[method], Paths[path], Queries[query], key, body);

    [Fact]
    public async Task Mutated_methods_paths_and_queries_get_problem_json_for_every_error()
    {
        var statuses = new Dictionary<int, int>();
        await Requests.SampleAsync(async r =>
        {
            using var request = new HttpRequestMessage(new HttpMethod(r.Method), r.Path + r.Query);
            if (r.Key)
            {
                request.Headers.Add("X-Api-Key", Integration.ErrorContractTests.AdminKey);
            }

            if (r.Body)
            {
                request.Content = Events.Body(Events.Json("fuzz-route"));
            }

            using var response = await Client.SendAsync(request);
            var status = (int)response.StatusCode;
            lock (statuses)
            {
                statuses[status] = statuses.GetValueOrDefault(status) + 1;
            }

            var text = await response.Content.ReadAsStringAsync();
            Assert.True(status < 500, $"{status} for {r}: {text}");
            if (status >= 400)
            {
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                var problem = System.Text.Json.JsonDocument.Parse(text).RootElement;
                Assert.StartsWith("urn:hermes:problem:", problem.GetProperty("type").GetString());
                Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()), $"{status} for {r} has no detail");
            }
        }, seed: "0N0XIzNsQ0O2", iter: 1_000, threads: 2);

        // The framework's own errors must all have occurred, or the generator is not reaching them.
        Assert.Contains(statuses.Keys, s => s is 404);
        Assert.Contains(statuses.Keys, s => s is 405);
        Assert.Contains(statuses.Keys, s => s is 400);
        Assert.Contains(statuses.Keys, s => s is 200 or 202);
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync("/health", TestContext.Current.CancellationToken)).StatusCode);
    }

    private static byte[] Mutate(int seed, int events, int[] kinds, double[] positions, int[] lengths, int[] fragments, int[] raws, int shape)
    {
        var types = new[] { "trip_started", "song_played", "ad_clicked", "location_update" };
        var lines = Enumerable.Range(0, shape == 0 ? 1 : events)
            .Select(i => Events.Json($"fz-{seed}-{i}", type: types[(seed + i) % 4], timestamp: 1_700_000_000 + i, payload: $$"""{"n":{{seed}},"s":"v{{i}}"}"""))
            .ToList();
        var text = shape switch
        {
            0 => lines[0],
            1 => "[" + string.Join(',', lines) + "]",
            _ => string.Join('\n', lines),
        };

        var bytes = new List<byte>(Encoding.UTF8.GetBytes(text));
        for (var m = 0; m < kinds.Length; m++)
        {
            var at = (int)(positions[m] * bytes.Count);
            switch (kinds[m])
            {
                case 0: // delete a range
                    bytes.RemoveRange(at, Math.Min(lengths[m], bytes.Count - at));
                    break;
                case 1: // insert a hostile fragment
                    bytes.InsertRange(at, Encoding.UTF8.GetBytes(Fragments[fragments[m]]));
                    break;
                case 2: // insert invalid UTF-8
                    bytes.InsertRange(at, RawBytes[raws[m]]);
                    break;
                case 3: // truncate
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 4: // duplicate a slice
                    var length = Math.Min(lengths[m], bytes.Count - at);
                    bytes.InsertRange(at, bytes.GetRange(at, length));
                    break;
                default: // flip a byte
                    if (at < bytes.Count)
                    {
                        bytes[at] ^= (byte)(1 << (lengths[m] % 8));
                    }

                    break;
            }
        }

        bytes.Insert(0, (byte)shape);
        return [.. bytes];
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CsCheck;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Hostile;

/// <summary>
/// Mutates valid events and batches (seeded, so a failure replays) and sends thousands of them: every answer must
/// be 2xx or a 4xx, never a 5xx, and Hermes must still be healthy and accepting afterwards.
/// </summary>
public sealed class FuzzTests() : HermesTest(new() { ["MAX_EVENT_BYTES"] = "65536", ["MAX_BATCH_EVENTS"] = "200" })
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

using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Hermes.Client.Buffering;
using Hermes.Client.Sending;

namespace Hermes.Tests.Client;

/// <summary>The buffer's bound and batching, and the bytes a batch carries, without a network.</summary>
public sealed class ClientBufferTests
{
    [Fact]
    public void Reservations_stop_at_the_capacity_and_a_cancelled_one_frees_its_slot()
    {
        var buffer = new EventBuffer(capacity: 3, batchEvents: 2);

        Assert.True(buffer.TryReserve());
        Assert.True(buffer.TryReserve());
        Assert.True(buffer.TryReserve());
        Assert.False(buffer.TryReserve());
        buffer.CancelReservation();
        Assert.True(buffer.TryReserve());
        Assert.Equal(3, buffer.Count);
    }

    [Fact]
    public async Task Concurrent_producers_never_pass_the_bound_and_every_reserved_event_is_taken_once()
    {
        var buffer = new EventBuffer(capacity: 50_000, batchEvents: 1_000);
        var accepted = 0;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(p => Task.Run(() =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                if (buffer.TryReserve())
                {
                    buffer.Enqueue(Encoding.UTF8.GetBytes($"{p}-{i}\n"));
                    Interlocked.Increment(ref accepted);
                }
            }
        }, TestContext.Current.CancellationToken)));

        Assert.Equal(50_000, accepted);
        var taken = new HashSet<string>();
        var batch = new List<byte[]>();
        while (buffer.Count > 0)
        {
            batch.Clear();
            buffer.TakeBatch(batch, 1_000, int.MaxValue);
            Assert.InRange(batch.Count, 1, 1_000);
            Assert.All(batch, line => Assert.True(taken.Add(Encoding.UTF8.GetString(line))));
        }

        Assert.Equal(50_000, taken.Count);
    }

    [Fact]
    public void A_batch_stops_at_its_byte_limit_and_the_line_that_did_not_fit_starts_the_next()
    {
        var buffer = new EventBuffer(capacity: 10, batchEvents: 10);
        foreach (var size in new[] { 400, 400, 400, 2_000 })
        {
            Assert.True(buffer.TryReserve());
            buffer.Enqueue(new byte[size]);
        }

        var batch = new List<byte[]>();
        buffer.TakeBatch(batch, maxEvents: 10, maxBytes: 1_000);
        Assert.Equal([400, 400], batch.Select(b => b.Length));

        batch.Clear();
        buffer.TakeBatch(batch, maxEvents: 10, maxBytes: 1_000);
        Assert.Equal([400], batch.Select(b => b.Length)); // the carried line, then 2,000 B would pass the limit

        batch.Clear();
        buffer.TakeBatch(batch, maxEvents: 10, maxBytes: 1_000);
        Assert.Equal([2_000], batch.Select(b => b.Length)); // a line over the limit still goes, alone
        Assert.Equal(0, buffer.Count);
    }

    [Fact]
    public async Task A_batch_is_gzip_NDJSON_of_the_lines_as_Track_wrote_them()
    {
        var id = Guid.CreateVersion7();
        var lines = new List<byte[]>
        {
            EventLine.Write(id, "user-\"1\"", "song_played", 1_700_000_000, new Dictionary<string, object> { ["title"] = "Ça plane pour moi" },
                JsonSerializerOptions.Default.GetTypeInfo(typeof(Dictionary<string, object>))),
            EventLine.Write(Guid.CreateVersion7(), "user-2", "ad_clicked", 1_700_000_001, null, null),
        };

        using var content = BatchEncoder.Encode(lines, 0, 2);
        Assert.Equal("application/x-ndjson", content.Headers.ContentType?.MediaType);
        Assert.Equal(["gzip"], content.Headers.ContentEncoding);
        await using var gzip = new GZipStream(await content.ReadAsStreamAsync(TestContext.Current.CancellationToken), CompressionMode.Decompress);
        var text = await new StreamReader(gzip).ReadToEndAsync(TestContext.Current.CancellationToken);

        var ndjson = text.Split('\n');
        Assert.Equal(3, ndjson.Length);
        Assert.Equal("", ndjson[2]);
        using var first = JsonDocument.Parse(ndjson[0]);
        Assert.Equal(id.ToString(), first.RootElement.GetProperty("id").GetString());
        Assert.Equal("user-\"1\"", first.RootElement.GetProperty("user_id").GetString());
        Assert.Equal(1_700_000_000, first.RootElement.GetProperty("timestamp").GetInt64());
        Assert.Contains("Ça plane pour moi", ndjson[0], StringComparison.Ordinal); // UTF-8, not \u escapes
        Assert.Equal(id.ToString(), EventLine.IdOf(lines[0]));
        using var second = JsonDocument.Parse(ndjson[1]);
        Assert.False(second.RootElement.TryGetProperty("payload", out _));
    }

    [Fact]
    public void Ids_are_RFC_9562_version_7_with_the_millisecond_first_and_never_repeat()
    {
        var at = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123);
        var ids = new HashSet<Guid>();

        for (var i = 0; i < 100_000; i++)
        {
            var id = UuidV7.Create(at);
            Assert.True(ids.Add(id));
            Assert.Equal(7, id.Version);
            Assert.Equal(0b1000, id.Variant & 0b1100); // RFC 9562 variant: 10xx
        }

        // The first 48 bits are the milliseconds, so ids made later sort later (kind to an index on them).
        var first = ids.First().ToString("N");
        Assert.Equal(1_700_000_000_123L.ToString("x12", System.Globalization.CultureInfo.InvariantCulture), first[..12]);
        var later = UuidV7.Create(at.AddMilliseconds(1));
        Assert.True(string.CompareOrdinal(later.ToString(), ids.Max(id => id.ToString())) > 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => UuidV7.Create(DateTimeOffset.UnixEpoch.AddSeconds(-1)));
    }
}

using System.Text.Json.Serialization;
using BenchmarkDotNet.Attributes;
using Hermes.Client;
using Hermes.Client.Buffering;
using Hermes.Client.Sending;
using Microsoft.Extensions.DependencyInjection;

namespace Hermes.Benchmarks.Client;

/// <summary>
/// What <c>HermesClient.Track</c> costs the caller, per event. Each invocation tracks 1,000 events and then empties
/// the buffer itself (the sender would; here it never wakes: its interval is an hour and a batch 10,000 events), so
/// the figures include the sender's dequeue, about what a real run adds per event. Also the sender's per-event cost
/// of encoding a 1,000-event batch (NDJSON + gzip Fastest).
/// </summary>
[MemoryDiagnoser]
public class TrackBenchmarks
{
    private const int Events = 1_000;

    // A typical payload: a few short fields, as the sample producer sends.
    private static readonly SongPlayed Song = new("s-4242", "Daft Punk", "Digital Love", 301_000, "playlist");
    private static readonly object AnonymousSong = new { song_id = "s-4242", artist = "Daft Punk", title = "Digital Love", duration_ms = 301_000, source = "playlist" };

    private ServiceProvider _services = null!;
    private HermesClient _client = null!;
    private EventBuffer _buffer = null!;
    private ServiceProvider _fullServices = null!;
    private HermesClient _fullClient = null!;
    private List<byte[]> _batch = null!;

    [GlobalSetup]
    public void Setup()
    {
        (_services, _client) = Start(capacity: 2 * Events);
        _buffer = _services.GetRequiredService<EventBuffer>();

        // A buffer of one, already full: every Track is the drop path.
        (_fullServices, _fullClient) = Start(capacity: 1);
        _fullClient.Track("song_played", "user-1");

        _batch = [.. Enumerable.Range(0, Events).Select(i => EventLine.Write(Guid.CreateVersion7(), $"user-{i % 1000}", "song_played",
            1_700_000_000 + i, Song, BenchJson.Default.SongPlayed))];
        using var content = BatchEncoder.Encode(_batch, 0, Events);
        var raw = _batch.Sum(line => line.Length);
        Console.WriteLine($"// batch of {Events}: {raw / (double)Events:F0} B per event as NDJSON, {content.Headers.ContentLength / (double)Events:F1} B gzip ({raw / (double)content.Headers.ContentLength!:F1}x)");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _services.Dispose();
        _fullServices.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Events, Baseline = true)]
    public void Track_source_generated_payload()
    {
        for (var i = 0; i < Events; i++)
        {
            _client.Track("song_played", "user-1234", Song, BenchJson.Default.SongPlayed);
        }

        _buffer.DrainAll();
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public void Track_anonymous_payload_by_reflection()
    {
        for (var i = 0; i < Events; i++)
        {
            _client.Track("song_played", "user-1234", AnonymousSong);
        }

        _buffer.DrainAll();
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public void Track_without_payload()
    {
        for (var i = 0; i < Events; i++)
        {
            _client.Track("ad_clicked", "user-1234");
        }

        _buffer.DrainAll();
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public void Track_dropped_by_a_full_buffer()
    {
        for (var i = 0; i < Events; i++)
        {
            _fullClient.Track("song_played", "user-1234", Song, BenchJson.Default.SongPlayed);
        }
    }

    [Benchmark]
    public Guid Guid_CreateVersion7() => Guid.CreateVersion7();

    [Benchmark]
    public Guid UuidV7_Create() => UuidV7.Create(DateTimeOffset.UtcNow);

    [Benchmark(OperationsPerInvoke = Events)]
    public long Encode_batch_gzip()
    {
        using var content = BatchEncoder.Encode(_batch, 0, Events);
        return content.Headers.ContentLength ?? 0;
    }

    private static (ServiceProvider, HermesClient) Start(int capacity)
    {
        var services = new ServiceCollection()
            .AddLogging()
            // Nothing listens on port 9 (discard), and nothing is ever sent: the sender never wakes.
            .AddHermesClient(new Uri("http://127.0.0.1:9"), s =>
            {
                s.BufferCapacity = capacity;
                s.MaxBatchEvents = 10_000;
                s.FlushInterval = TimeSpan.FromHours(1);
                s.ShutdownTimeout = TimeSpan.Zero;
            })
            .BuildServiceProvider();
        return (services, services.GetRequiredService<HermesClient>());
    }
}

public sealed record SongPlayed(
    [property: JsonPropertyName("song_id")] string SongId,
    [property: JsonPropertyName("artist")] string Artist,
    [property: JsonPropertyName("title")] string Title,
    [property: JsonPropertyName("duration_ms")] int DurationMs,
    [property: JsonPropertyName("source")] string Source);

[JsonSerializable(typeof(SongPlayed))]
internal sealed partial class BenchJson : JsonSerializerContext;

using Hermes.Ingest.Events;
using Hermes.Ingest.Sinks.Durable;
using Hermes.Ingest.Sinks.Postgres;
using Hermes.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hermes.Tests.Durable;

public sealed class SpillStoreTests : IDisposable
{
    private static readonly string[] Types = ["trip_started", "song_played"];

    private readonly TempDirectory _directory = new("spill");
    private readonly ServiceMeterFactory _meters = new();
    private readonly DurableSinkMetrics _metrics;

    public SpillStoreTests() => _metrics = new DurableSinkMetrics(_meters);

    public void Dispose()
    {
        _meters.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public async Task Spilled_batches_read_back_in_order_with_exact_values_and_segments_are_deleted()
    {
        using var spill = Open();
        var first = Batch("a", 3, payload: "{\"x\":\"ü\\u0000\"}");
        var second = Batch("b", 2, payload: null);

        Assert.True(await spill.AppendAsync(first, Types, CancellationToken.None));
        Assert.True(await spill.AppendAsync(second, Types, CancellationToken.None));
        Assert.Equal(5, _metrics.SpillEvents);

        var read1 = await spill.ReadNextAsync(CancellationToken.None);
        Assert.Equal(first, read1!.Events);
        Assert.Equal(Types, read1.TypeNames);
        Assert.Equal(first, (await spill.ReadNextAsync(CancellationToken.None))!.Events); // not acknowledged: same again
        spill.Acknowledge();
        Assert.Equal(second, (await spill.ReadNextAsync(CancellationToken.None))!.Events);
        spill.Acknowledge();

        Assert.Null(await spill.ReadNextAsync(CancellationToken.None));
        Assert.True(spill.IsEmpty);
        Assert.Equal((0, 0), (_metrics.SpillBytes, _metrics.SpillEvents));
        Assert.Empty(Directory.GetFiles(_directory.Path, "*.spill"));
    }

    [Fact]
    public async Task A_later_run_finds_what_an_earlier_one_spilled()
    {
        using (var earlier = Open())
        {
            await earlier.AppendAsync(Batch("e", 4), Types, CancellationToken.None);
            await earlier.FlushAsync(CancellationToken.None);
        }

        using var later = Open();

        Assert.False(later.IsEmpty);
        Assert.Equal(4, (await later.ReadNextAsync(CancellationToken.None))!.Events.Length);
    }

    [Fact]
    public async Task Truncated_segment_is_skipped_past_with_the_loss_counted()
    {
        using (var crashed = Open())
        {
            await crashed.AppendAsync(Batch("t1", 5), Types, CancellationToken.None);
            await crashed.AppendAsync(Batch("t2", 7), Types, CancellationToken.None);
        }

        // Power loss: the second record is cut short.
        var segment = Directory.GetFiles(_directory.Path, "*.spill").Single();
        using (var file = new FileStream(segment, FileMode.Open))
        {
            file.SetLength(file.Length - 20);
        }

        using var spill = Open();
        Assert.Equal(5, (await spill.ReadNextAsync(CancellationToken.None))!.Events.Length);
        spill.Acknowledge();

        Assert.Null(await spill.ReadNextAsync(CancellationToken.None));
        Assert.Equal(7, _metrics.Dropped(DropReason.Corrupt));
        Assert.Equal(1, _metrics.CorruptRecords);
        Assert.Empty(Directory.GetFiles(_directory.Path, "*.spill"));
    }

    [Fact]
    public async Task Record_with_a_bad_checksum_is_skipped_and_the_next_one_still_read()
    {
        using (var earlier = Open())
        {
            await earlier.AppendAsync(Batch("c1", 2), Types, CancellationToken.None);
            await earlier.AppendAsync(Batch("c2", 3), Types, CancellationToken.None);
            await earlier.AppendAsync(Batch("c3", 4), Types, CancellationToken.None);
        }

        var segment = Directory.GetFiles(_directory.Path, "*.spill").Single();
        var bytes = await File.ReadAllBytesAsync(segment, TestContext.Current.CancellationToken);
        var second = bytes.AsSpan(1).IndexOf("HSP1"u8) + 1;
        bytes[second + SpillRecord.HeaderBytes + 10] ^= 0xFF; // flip a bit inside the second record's body
        await File.WriteAllBytesAsync(segment, bytes, TestContext.Current.CancellationToken);

        using var spill = Open();
        var read = new List<int>();
        while (await spill.ReadNextAsync(CancellationToken.None) is { } batch)
        {
            read.Add(batch.Events.Length);
            spill.Acknowledge();
        }

        Assert.Equal([2, 4], read);
        Assert.Equal(3, _metrics.Dropped(DropReason.Corrupt));
    }

    [Fact]
    public async Task Over_the_bound_a_batch_is_dropped_and_counted()
    {
        using var spill = Open(maxBytes: 1 << 20);
        var big = Batch("big", 1, payload: "\"" + new string('x', 600_000) + "\"");

        Assert.True(await spill.AppendAsync(big, Types, CancellationToken.None));
        Assert.False(await spill.AppendAsync(big, Types, CancellationToken.None));

        Assert.Equal(1, _metrics.Dropped(DropReason.SpillFull));
        Assert.Equal(1, _metrics.SpillEvents);
    }

    [Fact]
    public void A_second_instance_cannot_share_the_directory()
    {
        using var first = Open();

        var error = Assert.Throws<Hermes.Ingest.Configuration.InvalidSettingException>(() => Open());

        Assert.Contains($"SPILL_DIR={_directory.Path} is invalid: it is in use by another Hermes instance", error.Message);
    }

    [Fact]
    public async Task A_shared_root_gives_each_instance_its_own_directory_and_only_a_dead_ones_can_be_adopted()
    {
        var options = Shared();
        var live = new SpillStore(options, _metrics, NullLogger<SpillStore>.Instance);
        var other = new SpillStore(Shared(), _metrics, NullLogger<SpillStore>.Instance);
        await live.AppendAsync(Batch("orphan", 3), Types, CancellationToken.None);
        await live.FlushAsync(CancellationToken.None);

        // Each process a new directory under the root, named so it is never reused.
        Assert.NotEqual(live.SpillDirectory, other.SpillDirectory);
        Assert.Equal(_directory.Path, Path.GetDirectoryName(live.SpillDirectory));
        Assert.Equal([live.SpillDirectory], SpillStore.Siblings(other.Options));

        // Held by a live instance: not adoptable, however often asked.
        Assert.Null(SpillStore.TryAdopt(live.SpillDirectory, other.Options, _metrics, NullLogger<SpillStore>.Instance));

        live.Dispose();
        using (var adopted = SpillStore.TryAdopt(live.SpillDirectory, other.Options, _metrics, NullLogger<SpillStore>.Instance))
        {
            Assert.NotNull(adopted);

            // One adopter at a time: the lock is held until the directory is done.
            Assert.Null(SpillStore.TryAdopt(live.SpillDirectory, other.Options, _metrics, NullLogger<SpillStore>.Instance));
            Assert.Equal(Batch("orphan", 3), (await adopted.ReadNextAsync(CancellationToken.None))!.Events);
            adopted.Acknowledge();
            Assert.Null(await adopted.ReadNextAsync(CancellationToken.None));
            adopted.DeleteDirectory();
        }

        Assert.False(Directory.Exists(live.SpillDirectory));
        Assert.Null(SpillStore.TryAdopt(live.SpillDirectory, other.Options, _metrics, NullLogger<SpillStore>.Instance));
        Assert.Empty(SpillStore.Siblings(other.Options));
        other.Dispose();

        // Through the loader, which gives each process a subdirectory of its own under the shared root.
        DurableSinkOptions Shared() => PostgresSinkOptionsLoader.Load(
            new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["SPILL_DIR"] = _directory.Path,
                ["SPILL_SHARED"] = "true",
                ["DB_DSN"] = "Host=127.0.0.1;Database=x",
            }).Build(),
            new Hermes.Ingest.Configuration.IngestOptions { DbDsn = "Host=127.0.0.1;Database=x" })!.Durable;
    }

    private SpillStore Open(long maxBytes = 1L << 30) =>
        new(new DurableSinkOptions { SpillDirectory = _directory.Path, SpillMaxBytes = maxBytes }, _metrics, NullLogger<SpillStore>.Instance);

    private static EventRecord[] Batch(string prefix, int count, string? payload = "{\"k\":1}") =>
        [.. Enumerable.Range(0, count).Select(i => new EventRecord($"{prefix}-{i}", "user\0ü", (byte)(i % 2), 1_700_000_000 + i, payload, 1_700_000_000_123 + i))];
}

using Hermes.Ingest.Aggregation;
using Hermes.Ingest.Configuration;
using Hermes.Ingest.Events;
using Hermes.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Options;

namespace Hermes.Tests.Unit;

public sealed class MinuteAggregatorTests
{
    private static readonly IOptions<IngestOptions> Defaults = Options.Create(new IngestOptions());
    private static readonly EventTypeCatalog Types = new(Defaults);

    private static EventRecord Event(byte type, long timestamp) => new("id", "u", type, timestamp, null, 0);

    [Theory]
    [InlineData(1_700_000_000, 1_699_999_980)]
    [InlineData(1_699_999_980, 1_699_999_980)]
    [InlineData(1_700_000_039, 1_699_999_980)]
    [InlineData(1_700_000_040, 1_700_000_040)]
    [InlineData(0, 0)]
    [InlineData(59, 0)]
    public void Minute_bucket_is_the_start_of_the_timestamps_minute(long timestamp, long minute) =>
        Assert.Equal(minute, Event(0, timestamp).Minute);

    [Fact]
    public void Counts_are_exact_under_many_concurrent_writers()
    {
        var aggregator = new MinuteAggregator(Defaults, Types, TimeProvider.System);
        const int Writers = 16, BatchesPerWriter = 500, BatchSize = 200;

        Parallel.For(0, Writers, new ParallelOptions { MaxDegreeOfParallelism = Writers }, writer =>
        {
            var batch = new EventRecord[BatchSize];
            for (var b = 0; b < BatchesPerWriter; b++)
            {
                for (var i = 0; i < BatchSize; i++)
                {
                    // 4 types × 50 minutes: more distinct keys per batch than the local tally holds, to cover its spill.
                    batch[i] = Event((byte)(i % 4), 1_700_000_000 + (60 * ((i + b + writer) % 50)));
                }

                aggregator.Add(batch);
            }
        });

        var snapshot = aggregator.Snapshot();
        Assert.Equal((long)Writers * BatchesPerWriter * BatchSize, snapshot.Sum(c => c.Count));
        Assert.Equal(200, snapshot.Count);

        // Check one bucket exactly against a sequential recount.
        var expected = 0L;
        for (var writer = 0; writer < Writers; writer++)
        {
            for (var b = 0; b < BatchesPerWriter; b++)
            {
                for (var i = 0; i < BatchSize; i++)
                {
                    if (i % 4 == 1 && (i + b + writer) % 50 == 7)
                    {
                        expected++;
                    }
                }
            }
        }

        var minute = Event(0, 1_700_000_000 + (60 * 7)).Minute;
        Assert.Equal(expected, snapshot.Single(c => c.Type == "song_played" && c.Minute == minute).Count);
    }

    [Fact]
    public void Snapshot_filters_by_type_and_minute_range()
    {
        var aggregator = new MinuteAggregator(Defaults, Types, TimeProvider.System);
        aggregator.Add([Event(0, 60), Event(1, 60), Event(1, 120), Event(1, 180), Event(2, 180)]);

        var filtered = aggregator.Snapshot(type: "song_played", from: 100, to: 180);

        Assert.Equal([new AggregateCount("song_played", 120, 1), new AggregateCount("song_played", 180, 1)], filtered);
    }

    [Fact]
    public void Buckets_are_evicted_after_retention_since_their_last_update()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var aggregator = new MinuteAggregator(Options.Create(new IngestOptions { AggregateRetention = TimeSpan.FromMinutes(10) }), Types, clock);
        aggregator.Add([Event(0, 60)]);
        clock.Advance(TimeSpan.FromMinutes(6));
        aggregator.Add([Event(1, 120)]);
        clock.Advance(TimeSpan.FromMinutes(5));

        var evicted = aggregator.Evict();

        Assert.Equal(1, evicted);
        Assert.Equal([new AggregateCount("song_played", 120, 1)], aggregator.Snapshot());
    }

    [Fact]
    public void Retention_is_measured_on_the_monotonic_clock_when_the_wall_clock_steps_back()
    {
        var clock = new SteppingClock(DateTimeOffset.UtcNow);
        var aggregator = new MinuteAggregator(Options.Create(new IngestOptions { AggregateRetention = TimeSpan.FromMinutes(10) }), Types, clock);
        aggregator.Add([Event(0, 60)]);

        clock.StepWallClock(TimeSpan.FromHours(-1));
        clock.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal(0, aggregator.Evict());

        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(1, aggregator.Evict());
        Assert.Empty(aggregator.Snapshot());
    }

    [Fact]
    public void Bucket_cap_evicts_the_oldest_minutes_first()
    {
        var aggregator = new MinuteAggregator(Options.Create(new IngestOptions { MaxAggregateBuckets = 3 }), Types, TimeProvider.System);
        aggregator.Add([Event(0, 300), Event(0, 60), Event(0, 240), Event(0, 120), Event(0, 180)]);

        aggregator.Evict();

        Assert.Equal([180L, 240L, 300L], aggregator.Snapshot().Select(c => c.Minute));
        Assert.Equal(2, aggregator.EvictedBuckets);
    }
}

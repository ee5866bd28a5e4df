using Hermes.Ingest.Configuration;
using Hermes.Ingest.Sinks.Postgres;
using Microsoft.Extensions.Configuration;

namespace Hermes.Tests.Unit;

/// <summary>Where a timestamp's partition lies, and the storage settings that shape it, without a database.</summary>
public sealed class PartitionLayoutTests
{
    private const long Day = 86_400;
    private const long Dec2 = 1_796_169_600; // 2026-12-02T00:00:00Z
    private static readonly TimeSpan Daily = TimeSpan.FromDays(1);

    [Theory]
    [InlineData(Dec2, Dec2, Dec2 + Day)]
    [InlineData(Dec2 + 1, Dec2, Dec2 + Day)]
    [InlineData(Dec2 + Day - 1, Dec2, Dec2 + Day)]
    [InlineData(0, 0, Day)]
    public void A_timestamp_falls_in_the_utc_day_that_holds_it(long timestamp, long from, long to) =>
        Assert.Equal((from, to), PartitionLayout.IntervalOf(timestamp, Daily));

    [Fact]
    public void Hourly_intervals_start_on_the_hour() =>
        Assert.Equal((Dec2 + 3600 * 5, Dec2 + 3600 * 6), PartitionLayout.IntervalOf(Dec2 + 3600 * 5 + 59, TimeSpan.FromHours(1)));

    [Fact]
    public void A_timestamp_an_existing_partition_holds_needs_no_new_one()
    {
        PartitionRange[] existing = [new("events_archive", long.MinValue, Dec2), new("events_p20261202", Dec2, Dec2 + Day)];

        Assert.Null(PartitionLayout.RangeFor(0, existing, Daily));
        Assert.Null(PartitionLayout.RangeFor(Dec2 - 1, existing, Daily));
        Assert.Null(PartitionLayout.RangeFor(Dec2 + 100, existing, Daily));
        Assert.Equal((Dec2 + Day, Dec2 + 2 * Day), PartitionLayout.RangeFor(Dec2 + Day + 5, existing, Daily));
    }

    [Fact]
    public void A_new_partition_is_clipped_to_the_gap_between_its_neighbours()
    {
        // Hourly partitions made before PARTITION_INTERVAL changed to a day: the new day partition must fit between.
        PartitionRange[] existing =
        [
            new("events_archive", long.MinValue, Dec2 + 3600),
            new("events_p20261202_0500", Dec2 + 5 * 3600, Dec2 + 6 * 3600),
        ];

        Assert.Equal((Dec2 + 3600, Dec2 + 5 * 3600), PartitionLayout.RangeFor(Dec2 + 2 * 3600, existing, Daily));
        Assert.Equal((Dec2 + 6 * 3600, Dec2 + Day), PartitionLayout.RangeFor(Dec2 + 7 * 3600, existing, Daily));
    }

    [Fact]
    public void Binary_search_finds_the_partition_or_none()
    {
        PartitionRange[] sorted =
        [
            new("a", long.MinValue, Dec2),
            new("b", Dec2, Dec2 + Day),
            new("c", Dec2 + 2 * Day, Dec2 + 3 * Day),
        ];

        Assert.Equal("a", PartitionLayout.Find(sorted, 0)?.Name);
        Assert.Equal("b", PartitionLayout.Find(sorted, Dec2)?.Name);
        Assert.Null(PartitionLayout.Find(sorted, Dec2 + Day));
        Assert.Equal("c", PartitionLayout.Find(sorted, Dec2 + 3 * Day - 1)?.Name);
        Assert.Null(PartitionLayout.Find(sorted, Dec2 + 3 * Day));
        Assert.Null(PartitionLayout.Find([], Dec2));
    }

    [Fact]
    public void Names_and_bounds_read_as_people_write_them()
    {
        Assert.Equal("events_p20261202", PartitionLayout.NameFor("events", Dec2));
        Assert.Equal("events_p20261202_0600", PartitionLayout.NameFor("events", Dec2 + 6 * 3600));
        Assert.Equal("MINVALUE", PartitionLayout.BoundSql(long.MinValue));
        Assert.Equal("'2026-12-02 00:00:00+00'", PartitionLayout.BoundSql(Dec2));
        Assert.Equal("MAXVALUE", PartitionLayout.BoundSql(PartitionLayout.MaxTimestamp + 1));
    }

    [Theory]
    [InlineData("FOR VALUES FROM ('2026-12-02 00:00:00+00') TO ('2026-12-03 00:00:00+00')", Dec2, Dec2 + Day)]
    [InlineData("FOR VALUES FROM (MINVALUE) TO ('2026-12-02 00:00:00+00')", long.MinValue, Dec2)]
    [InlineData("FOR VALUES FROM ('2026-12-02 00:00:00+00') TO (MAXVALUE)", Dec2, long.MaxValue)]
    public void Catalog_bounds_parse(string expression, long from, long to)
    {
        Assert.True(PartitionLayout.TryParseBound(expression, out var parsedFrom, out var parsedTo));
        Assert.Equal((from, to), (parsedFrom, parsedTo));
    }

    [Theory]
    [InlineData("FOR VALUES IN ('a')")]
    [InlineData("FOR VALUES WITH (modulus 4, remainder 0)")]
    [InlineData("DEFAULT")]
    public void Partitions_made_by_hand_in_another_shape_are_left_alone(string expression) =>
        Assert.False(PartitionLayout.TryParseBound(expression, out _, out _));

    [Theory]
    [InlineData("1d", 24)]
    [InlineData("6h", 6)]
    [InlineData("1h", 1)]
    [InlineData("7d", 168)]
    public void Partition_intervals_that_tile_days_are_accepted(string value, int hours) =>
        Assert.Equal(TimeSpan.FromHours(hours), LoadSink(("PARTITION_INTERVAL", value)).PartitionInterval);

    [Theory]
    [InlineData("5h")]
    [InlineData("90m")]
    [InlineData("36h")]
    [InlineData("0")]
    [InlineData("400d")]
    public void Partition_intervals_that_do_not_tile_days_stop_startup_naming_the_setting(string value)
    {
        var error = Assert.Throws<InvalidSettingException>(() => LoadSink(("PARTITION_INTERVAL", value)));
        Assert.StartsWith($"PARTITION_INTERVAL={value} is invalid:", Assert.Single(error.Problems));
    }

    [Fact]
    public void Storage_keeps_everything_by_default()
    {
        var options = LoadSink();

        Assert.Equal(Daily, options.PartitionInterval);
        Assert.Equal(TimeSpan.Zero, options.EventRetention);
        Assert.Equal(TimeSpan.Zero, options.RollupRetention);
    }

    [Fact]
    public void Retentions_are_read_in_days()
    {
        var options = LoadSink(("EVENT_RETENTION", "30d"), ("ROLLUP_RETENTION", "400d"));

        Assert.Equal(TimeSpan.FromDays(30), options.EventRetention);
        Assert.Equal(TimeSpan.FromDays(400), options.RollupRetention);
    }

    [Theory]
    [InlineData("30m")]
    [InlineData("soon")]
    public void A_retention_under_an_hour_stops_startup(string value)
    {
        var error = Assert.Throws<InvalidSettingException>(() => LoadSink(("EVENT_RETENTION", value)));
        Assert.StartsWith($"EVENT_RETENTION={value} is invalid:", Assert.Single(error.Problems));
    }

    [Theory]
    [InlineData("7d", "30d")]
    [InlineData("7d", null)]
    public void Rollups_kept_shorter_than_events_stop_startup_naming_both_settings(string rollups, string? events)
    {
        (string, string)[] settings = events is null ? [("ROLLUP_RETENTION", rollups)] : [("ROLLUP_RETENTION", rollups), ("EVENT_RETENTION", events)];

        var error = Assert.Throws<InvalidSettingException>(() => LoadSink(settings));

        var problem = Assert.Single(error.Problems);
        Assert.StartsWith($"ROLLUP_RETENTION={rollups} is invalid: it must be at least EVENT_RETENTION", problem);
        Assert.Contains(events ?? "keep everything", problem);
    }

    private static PostgresSinkOptions LoadSink(params (string Key, string Value)[] settings)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))
                .Append(new("DB_DSN", "Host=localhost;Database=hermes")))
            .Build();
        return PostgresSinkOptionsLoader.Load(configuration, IngestOptionsLoader.Load(configuration))!;
    }
}

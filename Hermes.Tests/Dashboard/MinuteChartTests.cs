extern alias Dashboard;

using Dashboard::Hermes.Dashboard.Views;

namespace Hermes.Tests.Dashboard;

public sealed class MinuteChartTests
{
    private const long Now = 1_700_000_040; // a minute start

    [Fact]
    public void Aggregate_keys_parse_into_types_and_minutes_and_bad_keys_are_skipped()
    {
        var counts = MinuteCounts.Parse(new Dictionary<string, long>
        {
            ["song_played:1700000040"] = 5,
            ["with:colon:1700000040"] = 2,
            ["no-minute"] = 9,
            ["bad:minute"] = 9,
        });

        Assert.Equal(["song_played", "with:colon"], counts.Types);
        Assert.Equal(5, counts["song_played", Now]);
        Assert.Equal(2, counts["with:colon", Now]);
        Assert.Equal(2, counts.Rows.Count);
    }

    [Fact]
    public void Each_minute_stacks_its_types_and_the_busiest_minute_sets_the_scale()
    {
        var counts = MinuteCounts.Parse(new Dictionary<string, long>
        {
            [$"ad_clicked:{Now}"] = 10,
            [$"song_played:{Now}"] = 30,
            [$"song_played:{Now - 60}"] = 5,
        });

        var chart = MinuteChart.Build(counts, Now, windowMinutes: 15);

        Assert.Equal(40, chart.MaxTotal);
        Assert.Equal([new ChartSeries("ad_clicked", 0, 10), new ChartSeries("song_played", 1, 35)], chart.Series);
        var nowBars = chart.Bars.Where(b => b.Minute == Now).ToList();
        Assert.Equal(["ad_clicked", "song_played"], nowBars.Select(b => b.Type));
        // Stacked: song_played sits directly on top of ad_clicked, three times as tall.
        Assert.Equal(nowBars[0].Y, nowBars[1].Y + nowBars[1].Height, precision: 6);
        Assert.Equal(3.0, nowBars[1].Height / nowBars[0].Height, precision: 6);
        Assert.Equal(MinuteChart.PlotBottom, nowBars[0].Y + nowBars[0].Height, precision: 6);
        // The newest minute is the right-most column.
        Assert.True(nowBars[0].X > chart.Bars.Single(b => b.Minute == Now - 60).X);
    }

    [Fact]
    public void Minutes_outside_the_window_are_left_out_of_bars_and_legend()
    {
        var counts = MinuteCounts.Parse(new Dictionary<string, long>
        {
            [$"trip_started:{Now - (20 * 60)}"] = 7,
            [$"song_played:{Now}"] = 1,
        });

        var last15 = MinuteChart.Build(counts, Now, windowMinutes: 15);
        var last60 = MinuteChart.Build(counts, Now, windowMinutes: 60);

        Assert.Equal(["song_played"], last15.Series.Select(s => s.Type));
        Assert.DoesNotContain(last15.Bars, b => b.Type == "trip_started");
        Assert.Equal(["song_played", "trip_started"], last60.Series.Select(s => s.Type));
    }

    [Fact]
    public void An_empty_window_draws_no_bars_but_keeps_its_axis()
    {
        var chart = MinuteChart.Build(MinuteCounts.Empty, Now, windowMinutes: 15);

        Assert.Empty(chart.Bars);
        Assert.Empty(chart.Series);
        Assert.Equal(["0", "1", "2", "3", "4"], chart.Ticks.Select(t => t.Label));
        Assert.Equal("now", chart.Labels[^1].Text);
    }

    [Fact]
    public void The_current_minute_shows_its_pace_once_a_few_seconds_have_passed()
    {
        var counts = MinuteCounts.Parse(new Dictionary<string, long> { [$"song_played:{Now}"] = 10, [$"song_played:{Now - 60}"] = 30 });

        // A quarter into the minute, 10 events are on pace for 40: drawn as an outline above the 10, and in the scale.
        var early = MinuteChart.Build(counts, Now, windowMinutes: 15, secondsIntoMinute: 15);
        var pace = Assert.NotNull(early.Projection);
        Assert.Equal((10, 40), (pace.SoFar, pace.Projected));
        var bar = early.Bars.Single(b => b.Minute == Now);
        Assert.Equal(bar.Y, pace.Y + pace.Height, precision: 6);
        Assert.Equal(MinuteChart.PlotBottom - ((MinuteChart.PlotBottom - MinuteChart.PlotTop) * 40 / MinuteChart.NiceCeiling(40)), pace.Y, precision: 6);

        // Too early to tell, or the minute is over: no projection.
        Assert.Null(MinuteChart.Build(counts, Now, windowMinutes: 15, secondsIntoMinute: 3).Projection);
        Assert.Null(MinuteChart.Build(counts, Now, windowMinutes: 15, secondsIntoMinute: 60).Projection);
    }

    [Fact]
    public void A_single_event_beside_a_busy_minute_is_still_drawn()
    {
        var counts = MinuteCounts.Parse(new Dictionary<string, long> { [$"song_played:{Now}"] = 1, [$"song_played:{Now - 60}"] = 100_000 });

        var chart = MinuteChart.Build(counts, Now, windowMinutes: 15);

        Assert.Equal(MinuteChart.MinBarHeight, chart.Bars.Single(b => b.Minute == Now).Height, precision: 6);
    }

    [Fact]
    public void Grid_lines_land_on_round_numbers()
    {
        var counts = MinuteCounts.Parse(new Dictionary<string, long> { [$"song_played:{Now}"] = 42 });

        var chart = MinuteChart.Build(counts, Now, windowMinutes: 15);

        Assert.Equal(["0", "10", "20", "30", "40", "50"], chart.Ticks.Select(t => t.Label));
    }

    [Theory]
    [InlineData(0, 4)]
    [InlineData(7, 10)]
    [InlineData(40, 40)]
    [InlineData(41, 50)]
    [InlineData(1234, 2000)]
    public void The_scale_rounds_up_to_a_readable_number(long value, long expected) =>
        Assert.Equal(expected, MinuteChart.NiceCeiling(value));

    [Fact]
    public void The_sparkline_grows_from_the_right_and_peaks_at_the_top()
    {
        var path = Sparkline.Path([0, 50, 100], capacity: 5);

        var points = path.Split(' ').Select(p => p[1..].Split(',').Select(double.Parse).ToArray()).ToList();
        Assert.Equal(3, points.Count);
        Assert.Equal(Sparkline.Width, points[^1][0], precision: 2);
        Assert.Equal(2, points[^1][1], precision: 2);
        Assert.Equal(Sparkline.Height - 2, points[0][1], precision: 2);
        Assert.Equal("", Sparkline.Path([5], capacity: 5));
    }

    [Fact]
    public void Csv_has_a_header_quotes_awkward_types_and_defuses_formulas()
    {
        var csv = AggregatesCsv.Write(
        [
            new MinuteCount("song_played", Now, 3),
            new MinuteCount("a,b", Now, 1),
            new MinuteCount("=cmd", Now, 2),
        ]);

        Assert.Equal(
            "type,minute_unix,minute_utc,count\n" +
            "song_played,1700000040,2023-11-14T22:14:00Z,3\n" +
            "\"a,b\",1700000040,2023-11-14T22:14:00Z,1\n" +
            "'=cmd,1700000040,2023-11-14T22:14:00Z,2\n",
            csv);
    }
}

namespace Hermes.Dashboard.Views;

/// <summary>One stacked segment: a type's count in one minute, with its rectangle in chart coordinates.</summary>
public readonly record struct ChartBar(string Type, int Series, long Minute, long Count, double X, double Y, double Width, double Height);

/// <summary>A series in the legend: a type, its colour index and its total over the window.</summary>
public readonly record struct ChartSeries(string Type, int Index, long Total);

/// <summary>A horizontal grid line with its value label.</summary>
public readonly record struct ChartTick(double Y, string Label);

/// <summary>An x-axis label under a minute column.</summary>
public readonly record struct ChartLabel(double X, string Text);

/// <summary>
/// The current minute's pace: an outline from the top of its stack up to <paramref name="Projected"/>, what the
/// minute reaches at the rate seen so far, so a minute a few seconds old does not read as a collapse.
/// </summary>
public readonly record struct ChartProjection(double X, double Y, double Width, double Height, long SoFar, long Projected);

/// <summary>
/// Geometry for the stacked "events per minute per type" chart, computed here rather than in Razor so it can be
/// tested without a browser. Coordinates are in a fixed viewBox (<see cref="Width"/> × <see cref="Height"/>); the SVG
/// scales to its container.
/// </summary>
public sealed class MinuteChart
{
    public const double Width = 960;
    public const double Height = 260;
    public const double PlotLeft = 48;
    public const double PlotTop = 8;
    public const double PlotBottom = Height - 24;
    public const double PlotRight = Width - 8;

    /// <summary>A non-zero count is drawn at least this tall (viewBox units ≈ px), so one event is not invisible next to 100k.</summary>
    public const double MinBarHeight = 2;

    /// <summary>Before this many seconds the current minute's pace is too noisy to project.</summary>
    public const double MinProjectionSeconds = 5;

    private MinuteChart(int windowMinutes, IReadOnlyList<ChartSeries> series, IReadOnlyList<ChartBar> bars, IReadOnlyList<ChartTick> ticks, IReadOnlyList<ChartLabel> labels,
        long maxTotal, ChartProjection? projection)
    {
        WindowMinutes = windowMinutes;
        Series = series;
        Bars = bars;
        Ticks = ticks;
        Labels = labels;
        MaxTotal = maxTotal;
        Projection = projection;
    }

    /// <summary>The current minute's projected total, when it has events and is at least <see cref="MinProjectionSeconds"/> old.</summary>
    public ChartProjection? Projection { get; }

    public int WindowMinutes { get; }

    public IReadOnlyList<ChartSeries> Series { get; }

    public IReadOnlyList<ChartBar> Bars { get; }

    public IReadOnlyList<ChartTick> Ticks { get; }

    public IReadOnlyList<ChartLabel> Labels { get; }

    /// <summary>The tallest stacked column, i.e. the busiest minute in the window.</summary>
    public long MaxTotal { get; }

    /// <summary>
    /// Builds the last <paramref name="windowMinutes"/> minutes ending with <paramref name="nowMinute"/>, one column per
    /// minute (empty minutes stay as gaps), each stacked by type in the order of <see cref="MinuteCounts.Types"/>.
    /// <paramref name="secondsIntoMinute"/> (0–60) is how much of the current minute has passed, for its projection.
    /// </summary>
    public static MinuteChart Build(MinuteCounts counts, long nowMinute, int windowMinutes, double secondsIntoMinute = 60)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(windowMinutes, 1);
        var firstMinute = nowMinute - ((windowMinutes - 1) * 60L);
        var types = counts.Types;

        var series = new List<ChartSeries>(types.Count);
        for (var i = 0; i < types.Count; i++)
        {
            var total = counts.Total(types[i], firstMinute, nowMinute);
            if (total > 0)
            {
                series.Add(new(types[i], i, total));
            }
        }

        long maxTotal = 0;
        for (var m = 0; m < windowMinutes; m++)
        {
            var minute = firstMinute + (m * 60L);
            maxTotal = Math.Max(maxTotal, series.Sum(s => counts[s.Type, minute]));
        }

        long current = series.Sum(s => counts[s.Type, nowMinute]);
        long projected = current > 0 && secondsIntoMinute is >= MinProjectionSeconds and < 60
            ? (long)Math.Round(current * 60 / secondsIntoMinute)
            : current;
        var scaleMax = NiceCeiling(Math.Max(maxTotal, projected));
        var plotHeight = PlotBottom - PlotTop;
        var slot = (PlotRight - PlotLeft) / windowMinutes;
        var barWidth = Math.Max(1, slot * 0.8);

        var bars = new List<ChartBar>();
        var labels = new List<ChartLabel>();
        ChartProjection? projection = null;
        var labelEvery = windowMinutes <= 15 ? 3 : 10;
        for (var m = 0; m < windowMinutes; m++)
        {
            var minute = firstMinute + (m * 60L);
            var x = PlotLeft + (m * slot) + ((slot - barWidth) / 2);
            var y = PlotBottom;
            foreach (var s in series)
            {
                var count = counts[s.Type, minute];
                if (count <= 0)
                {
                    continue;
                }

                var height = Math.Max(MinBarHeight, plotHeight * count / scaleMax);
                y -= height;
                bars.Add(new(s.Type, s.Index, minute, count, x, y, barWidth, height));
            }

            // Label from the newest minute backwards so "now" always has a label; it says "now" (the minute is not over).
            if ((windowMinutes - 1 - m) % labelEvery == 0)
            {
                labels.Add(new(x + (barWidth / 2), minute == nowMinute ? "now" : Format.Minute(minute)));
            }

            if (minute == nowMinute && projected > current)
            {
                var top = PlotBottom - (plotHeight * projected / scaleMax);
                projection = new(x, top, barWidth, Math.Max(0, y - top), current, projected);
            }
        }

        // Four divisions when the scale splits evenly into them (40 → 10s), else five (50 → 10s): round labels.
        var divisions = scaleMax % 4 == 0 ? 4 : 5;
        var ticks = new List<ChartTick>(divisions + 1);
        for (var i = 0; i <= divisions; i++)
        {
            var value = (double)scaleMax * i / divisions;
            ticks.Add(new(PlotBottom - (plotHeight * i / divisions), Format.Compact(value)));
        }

        return new(windowMinutes, series, bars, ticks, labels, maxTotal, projection);
    }

    /// <summary>Rounds up to 1, 2 or 5 × 10ⁿ so the grid lines land on round numbers; at least 4.</summary>
    public static long NiceCeiling(long value)
    {
        if (value <= 4)
        {
            return 4;
        }

        var magnitude = (long)Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (var step in (ReadOnlySpan<long>)[1, 2, 4, 5, 10])
        {
            if (step * magnitude >= value)
            {
                return step * magnitude;
            }
        }

        return 10 * magnitude;
    }
}

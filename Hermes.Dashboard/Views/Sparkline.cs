using System.Text;

namespace Hermes.Dashboard.Views;

/// <summary>The events/s sparkline: an SVG polyline path over the last samples, scaled to its own peak.</summary>
public static class Sparkline
{
    public const double Width = 240;
    public const double Height = 48;

    /// <summary>
    /// "M x,y L x,y …" for <paramref name="samples"/> (oldest first) laid over <paramref name="capacity"/> slots, so
    /// the line grows from the right as history fills. Empty when there are fewer than two samples.
    /// </summary>
    public static string Path(IReadOnlyList<double> samples, int capacity)
    {
        if (samples.Count < 2)
        {
            return "";
        }

        var peak = Math.Max(1, samples.Max());
        var step = Width / Math.Max(1, capacity - 1);
        var offset = capacity - samples.Count;
        var path = new StringBuilder(samples.Count * 16);
        for (var i = 0; i < samples.Count; i++)
        {
            var x = (offset + i) * step;
            var y = Height - 2 - ((Height - 4) * Math.Max(0, samples[i]) / peak);
            path.Append(i == 0 ? 'M' : 'L').Append(Format.Svg(x)).Append(',').Append(Format.Svg(y)).Append(' ');
        }

        return path.ToString().TrimEnd();
    }
}

using System.Globalization;

namespace Hermes.Dashboard.Views;

/// <summary>How numbers read on the page: exact counts with separators, compact rates, sizes and latencies.</summary>
public static class Format
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>12345678 → "12,345,678".</summary>
    public static string Count(long value) => value.ToString("N0", Invariant);

    /// <summary>Short form for tiles and axes: 950 → "950", 12_300 → "12.3k", 4_560_000 → "4.56M".</summary>
    public static string Compact(double value)
    {
        var magnitude = Math.Abs(value);
        return magnitude switch
        {
            >= 1e9 => Scaled(value / 1e9, "G"),
            >= 1e6 => Scaled(value / 1e6, "M"),
            >= 1e4 => Scaled(value / 1e3, "k"),
            >= 100 => Math.Round(value).ToString("N0", Invariant),
            _ => Math.Round(value, 1).ToString("0.#", Invariant),
        };

        static string Scaled(double v, string suffix) =>
            (Math.Abs(v) >= 100 ? v.ToString("0", Invariant) : Math.Abs(v) >= 10 ? v.ToString("0.#", Invariant) : v.ToString("0.##", Invariant)) + suffix;
    }

    /// <summary>Events per second: "0", "12.5", "8,200", "1.25M".</summary>
    public static string Rate(double perSecond) => Compact(perSecond);

    /// <summary>Latency: "0.42 ms", "12.3 ms", "1.5 s".</summary>
    public static string Milliseconds(double ms) => ms switch
    {
        >= 1000 => (ms / 1000).ToString("0.##", Invariant) + " s",
        >= 10 => ms.ToString("0.#", Invariant) + " ms",
        _ => ms.ToString("0.##", Invariant) + " ms",
    };

    /// <summary>Binary sizes: "0 B", "512 B", "1.5 KiB", "3.2 MiB".</summary>
    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (Math.Abs(value) >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0 ? $"{bytes.ToString(Invariant)} B" : $"{value.ToString(value >= 100 ? "0" : "0.#", Invariant)} {units[unit]}";
    }

    /// <summary>Share of a whole: "0%", "37%", "0.4%".</summary>
    public static string Percent(long part, long whole) =>
        whole <= 0 ? "0%" : (100.0 * part / whole) switch
        {
            0 => "0%",
            < 1 and var p => p.ToString("0.#", Invariant) + "%",
            var p => Math.Round(p).ToString("0", Invariant) + "%",
        };

    /// <summary>Minute label in UTC: "14:05".</summary>
    public static string Minute(long unixSeconds) =>
        DateTimeOffset.FromUnixTimeSeconds(unixSeconds).UtcDateTime.ToString("HH:mm", Invariant);

    /// <summary>ISO 8601 UTC, for CSV and tooltips.</summary>
    public static string Iso(long unixSeconds) =>
        DateTimeOffset.FromUnixTimeSeconds(unixSeconds).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", Invariant);

    /// <summary>Human reason label: "queue_full" → "queue full".</summary>
    public static string Reason(string reason) => reason.Replace('_', ' ');

    /// <summary>An SVG coordinate: invariant, two decimals at most.</summary>
    public static string Svg(double value) => Math.Round(value, 2).ToString(Invariant);
}

using System.Globalization;

namespace Hermes.Ingest.Configuration;

/// <summary>
/// Parses Go's <c>time.ParseDuration</c> syntax (<c>100ms</c>, <c>1.5s</c>, <c>1m30s</c>, <c>-5s</c>), so the
/// seed's environment files keep working; a plain .NET TimeSpan (<c>00:00:01</c>) is accepted too. One addition to
/// Go's units: <c>d</c> (24 hours), because retention is said in days (<c>EVENT_RETENTION=30d</c>).
/// </summary>
public static class GoDuration
{
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var s = text.Trim().AsSpan();
        if (s.Contains(':') && TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out value))
        {
            return true;
        }

        var negative = false;
        if (s[0] is '-' or '+')
        {
            negative = s[0] == '-';
            s = s[1..];
        }

        if (s is "0")
        {
            return true;
        }

        if (s.IsEmpty)
        {
            return false;
        }

        decimal totalTicks = 0;
        while (!s.IsEmpty)
        {
            var numberEnd = 0;
            while (numberEnd < s.Length && (char.IsAsciiDigit(s[numberEnd]) || s[numberEnd] == '.'))
            {
                numberEnd++;
            }

            if (numberEnd == 0
                || !decimal.TryParse(s[..numberEnd], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                return false;
            }

            s = s[numberEnd..];
            var unitEnd = 0;
            while (unitEnd < s.Length && !char.IsAsciiDigit(s[unitEnd]) && s[unitEnd] != '.')
            {
                unitEnd++;
            }

            decimal ticksPerUnit = s[..unitEnd] switch
            {
                "ns" => 0.01m,
                "us" or "µs" or "μs" => TimeSpan.TicksPerMicrosecond,
                "ms" => TimeSpan.TicksPerMillisecond,
                "s" => TimeSpan.TicksPerSecond,
                "m" => TimeSpan.TicksPerMinute,
                "h" => TimeSpan.TicksPerHour,
                "d" => TimeSpan.TicksPerDay,
                _ => -1,
            };
            if (ticksPerUnit < 0)
            {
                return false;
            }

            totalTicks += number * ticksPerUnit;
            if (totalTicks > TimeSpan.MaxValue.Ticks)
            {
                return false;
            }

            s = s[unitEnd..];
        }

        value = TimeSpan.FromTicks((long)(negative ? -totalTicks : totalTicks));
        return true;
    }

    /// <summary>The shortest form people write: <c>30d</c>, <c>12h</c>, <c>90m</c>, <c>45s</c>, else milliseconds.</summary>
    public static string Format(TimeSpan value) => value switch
    {
        { Ticks: 0 } => "0",
        _ when value.Ticks % TimeSpan.TicksPerDay == 0 => $"{value.Ticks / TimeSpan.TicksPerDay}d",
        _ when value.Ticks % TimeSpan.TicksPerHour == 0 => $"{value.Ticks / TimeSpan.TicksPerHour}h",
        _ when value.Ticks % TimeSpan.TicksPerMinute == 0 => $"{value.Ticks / TimeSpan.TicksPerMinute}m",
        _ when value.Ticks % TimeSpan.TicksPerSecond == 0 => $"{value.Ticks / TimeSpan.TicksPerSecond}s",
        _ => $"{value.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}ms",
    };
}

using System.Globalization;

namespace Hermes.Dashboard.Views;

/// <summary>One (type, minute) count; <see cref="Minute"/> is the Unix second that starts the minute.</summary>
public readonly record struct MinuteCount(string Type, long Minute, long Count);

/// <summary>
/// Ingest's <c>{"type:minute": n}</c> map, parsed once per snapshot into something the page can slice by type
/// and minute. Keys that do not parse are skipped rather than failing the whole view.
/// </summary>
public sealed class MinuteCounts
{
    public static readonly MinuteCounts Empty = new([]);

    private readonly Dictionary<(string Type, long Minute), long> _counts;

    private MinuteCounts(Dictionary<(string Type, long Minute), long> counts)
    {
        _counts = counts;
        Types = [.. counts.Keys.Select(k => k.Type).Distinct().Order(StringComparer.Ordinal)];
        Rows = [.. counts.Select(c => new MinuteCount(c.Key.Type, c.Key.Minute, c.Value))
            .OrderByDescending(r => r.Minute).ThenBy(r => r.Type, StringComparer.Ordinal)];
    }

    /// <summary>Event types present, in ordinal order (which also fixes their chart colours).</summary>
    public IReadOnlyList<string> Types { get; }

    /// <summary>Every count, newest minute first, then by type.</summary>
    public IReadOnlyList<MinuteCount> Rows { get; }

    public bool IsEmpty => _counts.Count == 0;

    public long this[string type, long minute] => _counts.GetValueOrDefault((type, minute));

    public static MinuteCounts Parse(IReadOnlyDictionary<string, long>? aggregates)
    {
        if (aggregates is null || aggregates.Count == 0)
        {
            return Empty;
        }

        var counts = new Dictionary<(string, long), long>(aggregates.Count);
        foreach (var (key, count) in aggregates)
        {
            // A type may be configured with any characters, so split at the last colon.
            var colon = key.LastIndexOf(':');
            if (colon > 0 && long.TryParse(key.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var minute))
            {
                counts[(key[..colon], minute)] = count;
            }
        }

        return new(counts);
    }

    /// <summary>Sum for a type over the minutes in [<paramref name="fromMinute"/>, <paramref name="toMinute"/>].</summary>
    public long Total(string type, long fromMinute, long toMinute)
    {
        long total = 0;
        for (var minute = fromMinute; minute <= toMinute; minute += 60)
        {
            total += this[type, minute];
        }

        return total;
    }

    /// <summary>The rows matching a type (null: every type) and a minute range, newest first.</summary>
    public IEnumerable<MinuteCount> Filter(string? type, long fromMinute, long toMinute) =>
        Rows.Where(r => (type is null || r.Type == type) && r.Minute >= fromMinute && r.Minute <= toMinute);

    /// <summary>The minute (Unix seconds) a Unix-millisecond instant falls in.</summary>
    public static long MinuteOf(long unixMilliseconds)
    {
        var seconds = unixMilliseconds / 1000;
        return seconds - (seconds % 60);
    }
}

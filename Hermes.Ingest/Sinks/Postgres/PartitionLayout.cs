using System.Globalization;

namespace Hermes.Ingest.Sinks.Postgres;

/// <summary>One partition of a time-partitioned table: [<see cref="From"/>, <see cref="To"/>) in Unix seconds.</summary>
/// <param name="From"><see cref="long.MinValue"/> for MINVALUE (the archive partition).</param>
/// <param name="To"><see cref="long.MaxValue"/> for MAXVALUE.</param>
public readonly record struct PartitionRange(string Name, long From, long To)
{
    public bool Contains(long unixSeconds) => unixSeconds >= From && unixSeconds < To;
}

/// <summary>
/// Where a timestamp's partition lies, as pure arithmetic (the database work is in <see cref="EventPartitions"/>).
/// Partitions are whole intervals aligned to multiples of the interval since 1970-01-01 UTC; below the first one
/// sits the archive partition, <c>FROM (MINVALUE)</c>, which takes everything older than the day the schema was
/// made (or, after a migration, every event stored before it). So however old the timestamps producers send, the
/// partitions number at most one per interval of real time the table has existed, plus the few ahead of now.
/// </summary>
public static class PartitionLayout
{
    /// <summary>The last second an event timestamp may have (9999-12-31T23:59:59Z): past it, bounds are MAXVALUE.</summary>
    public const long MaxTimestamp = 253_402_300_799;

    /// <summary>The interval that holds <paramref name="unixSeconds"/>: [start, start + interval).</summary>
    public static (long From, long To) IntervalOf(long unixSeconds, TimeSpan interval)
    {
        var width = (long)interval.TotalSeconds;
        var from = unixSeconds - (((unixSeconds % width) + width) % width);
        return (from, from + width);
    }

    /// <summary>
    /// The range a new partition for <paramref name="unixSeconds"/> should take: its interval, clipped to the gap
    /// between the partitions that exist (so a changed PARTITION_INTERVAL or the archive never makes an overlap).
    /// Null when an existing partition already holds the timestamp.
    /// </summary>
    /// <param name="existing">The table's partitions, sorted by <see cref="PartitionRange.From"/>.</param>
    public static (long From, long To)? RangeFor(long unixSeconds, IReadOnlyList<PartitionRange> existing, TimeSpan interval)
    {
        var (from, to) = IntervalOf(unixSeconds, interval);
        foreach (var partition in existing)
        {
            if (partition.Contains(unixSeconds))
            {
                return null;
            }

            if (partition.To <= unixSeconds)
            {
                from = Math.Max(from, partition.To);
            }
            else if (partition.From > unixSeconds)
            {
                to = Math.Min(to, partition.From);
                break;
            }
        }

        return (from, to);
    }

    /// <summary>The partition that holds <paramref name="unixSeconds"/>, by binary search; null if none does.</summary>
    public static PartitionRange? Find(ReadOnlySpan<PartitionRange> sorted, long unixSeconds)
    {
        int low = 0, high = sorted.Length - 1;
        while (low <= high)
        {
            var middle = (low + high) >>> 1;
            var candidate = sorted[middle];
            if (unixSeconds < candidate.From)
            {
                high = middle - 1;
            }
            else if (unixSeconds >= candidate.To)
            {
                low = middle + 1;
            }
            else
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary><c>events_p20261202</c> for a partition starting at midnight UTC, <c>events_p20261202_0600</c> otherwise.</summary>
    public static string NameFor(string table, long from)
    {
        var start = DateTimeOffset.FromUnixTimeSeconds(from);
        var format = (from % 86_400) switch
        {
            0 => "yyyyMMdd",
            var s when s % 60 == 0 => "yyyyMMdd'_'HHmm",
            _ => "yyyyMMdd'_'HHmmss",
        };
        return $"{table}_p{start.ToString(format, CultureInfo.InvariantCulture)}";
    }

    /// <summary>A bound as SQL: <c>MINVALUE</c>, <c>MAXVALUE</c> or a UTC timestamptz literal.</summary>
    public static string BoundSql(long unixSeconds) => unixSeconds switch
    {
        long.MinValue => "MINVALUE",
        > MaxTimestamp => "MAXVALUE",
        _ => "'" + DateTimeOffset.FromUnixTimeSeconds(unixSeconds).ToString("yyyy-MM-dd HH:mm:ss'+00'", CultureInfo.InvariantCulture) + "'",
    };

    /// <summary>
    /// Reads a bound as <c>pg_get_expr(relpartbound)</c> prints it under <c>TimeZone=UTC</c>:
    /// <c>FOR VALUES FROM ('2026-12-02 00:00:00+00') TO (MAXVALUE)</c>. False for anything else (a list or hash
    /// partition made by hand), which Hermes then leaves alone.
    /// </summary>
    public static bool TryParseBound(string expression, out long from, out long to)
    {
        from = to = 0;
        const string prefix = "FOR VALUES FROM (", middle = ") TO (";
        var split = expression.IndexOf(middle, StringComparison.Ordinal);
        if (!expression.StartsWith(prefix, StringComparison.Ordinal) || split < 0 || !expression.EndsWith(')'))
        {
            return false;
        }

        return TryParseValue(expression[prefix.Length..split], out from)
            && TryParseValue(expression[(split + middle.Length)..^1], out to);
    }

    private static bool TryParseValue(string value, out long unixSeconds)
    {
        unixSeconds = value switch { "MINVALUE" => long.MinValue, "MAXVALUE" => long.MaxValue, _ => 0 };
        if (value is "MINVALUE" or "MAXVALUE")
        {
            return true;
        }

        if (value.Length < 2 || value[0] != '\'' || value[^1] != '\''
            || !DateTimeOffset.TryParseExact(value[1..^1], ["yyyy-MM-dd HH:mm:sszz", "yyyy-MM-dd HH:mm:ss.FFFFFFzz"], CultureInfo.InvariantCulture,
                DateTimeStyles.None, out var parsed))
        {
            return false;
        }

        unixSeconds = parsed.ToUnixTimeSeconds();
        return true;
    }
}

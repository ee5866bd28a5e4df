using System.Globalization;
using System.Text;

namespace Hermes.Dashboard.Views;

/// <summary>The aggregates table as CSV: <c>type,minute_unix,minute_utc,count</c>, newest minute first.</summary>
public static class AggregatesCsv
{
    public const string Header = "type,minute_unix,minute_utc,count";

    public static string Write(IEnumerable<MinuteCount> rows)
    {
        var csv = new StringBuilder(Header).Append('\n');
        foreach (var row in rows)
        {
            csv.Append(Escape(row.Type)).Append(',')
                .Append(row.Minute.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(Format.Iso(row.Minute)).Append(',')
                .Append(row.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        return csv.ToString();
    }

    // RFC 4180: quote a field holding a comma, quote or line break; a leading =, +, - or @ is prefixed with ' so a
    // spreadsheet does not run a configured event type as a formula.
    private static string Escape(string field)
    {
        if (field.Length > 0 && field[0] is '=' or '+' or '-' or '@')
        {
            field = "'" + field;
        }

        return field.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : field;
    }
}

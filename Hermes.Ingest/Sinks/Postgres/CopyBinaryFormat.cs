using System.Buffers.Binary;
using System.Text;
using Hermes.Ingest.Events;

namespace Hermes.Ingest.Sinks.Postgres;

/// <summary>
/// Events as rows of PostgreSQL's binary COPY format, written straight into a buffer: an 11-byte signature and two
/// zero words, then per row a 16-bit field count and each field as a 32-bit length (-1 for NULL) and its bytes, then
/// a 16-bit -1. Big-endian throughout. Text is UTF-8; <c>timestamptz</c> is microseconds since 2000-01-01 UTC;
/// <c>jsonb</c> is a version byte (1) and the JSON text. https://www.postgresql.org/docs/15/sql-copy.html
/// <para>
/// Why not <c>NpgsqlBinaryImporter</c>: its <c>Write(value, type)</c> resolves a converter per value through an
/// <c>NpgsqlParameter</c> and an async state machine; perf on Hermes under load put 18% of its CPU there
/// (<c>NpgsqlBinaryImporter.Write</c>, <c>NpgsqlParameter.Write</c>, <c>PgTypeInfo.GetResolution</c>…). Six columns
/// of four fixed types need none of that. Npgsql still owns the connection and the COPY protocol
/// (<c>BeginRawBinaryCopyAsync</c>); this only lays out the bytes.
/// </para>
/// </summary>
public static class CopyBinaryFormat
{
    /// <summary>The columns, in the order every row carries them.</summary>
    public const string Columns = "(id, user_id, type, ts, payload, received_at)";

    private const short FieldCount = 6;

    /// <summary>Microseconds between 1970-01-01 and PostgreSQL's epoch, 2000-01-01.</summary>
    private const long PostgresEpochMicroseconds = 946_684_800L * 1_000_000;

    /// <summary>"PGCOPY\n\xff\r\n\0", flags 0, header extension length 0.</summary>
    public static ReadOnlySpan<byte> Header => [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>The end-of-data marker: a field count of -1.</summary>
    public static ReadOnlySpan<byte> Trailer => [0xFF, 0xFF];

    /// <summary>An upper bound on the bytes <see cref="WriteRow"/> needs for this event (UTF-8 is at most 3 bytes per UTF-16 char).</summary>
    public static int MaxRowBytes(in EventRecord e, string type) =>
        2 + (6 * 4) + 8 + 8 + (3 * (e.Id.Length + e.UserId.Length + type.Length)) + (e.Payload is null ? 0 : 1 + (3 * e.Payload.Length));

    /// <summary>Writes one row; <paramref name="destination"/> must hold <see cref="MaxRowBytes"/>.</summary>
    /// <returns>The bytes written.</returns>
    public static int WriteRow(in EventRecord e, string type, Span<byte> destination)
    {
        BinaryPrimitives.WriteInt16BigEndian(destination, FieldCount);
        var at = 2;
        at += WriteText(e.Id, destination[at..]);
        at += WriteText(e.UserId, destination[at..]);
        at += WriteText(type, destination[at..]);
        at += WriteTimestamp((e.Timestamp * 1_000_000) - PostgresEpochMicroseconds, destination[at..]);
        if (e.Payload is null)
        {
            BinaryPrimitives.WriteInt32BigEndian(destination[at..], -1);
            at += 4;
        }
        else
        {
            var length = Encoding.UTF8.GetBytes(e.Payload, destination[(at + 5)..]);
            BinaryPrimitives.WriteInt32BigEndian(destination[at..], length + 1);
            destination[at + 4] = 1; // jsonb binary format version
            at += 5 + length;
        }

        at += WriteTimestamp((e.ReceivedAtMs * 1_000) - PostgresEpochMicroseconds, destination[at..]);
        return at;
    }

    private static int WriteText(string value, Span<byte> destination)
    {
        var length = Encoding.UTF8.GetBytes(value, destination[4..]);
        BinaryPrimitives.WriteInt32BigEndian(destination, length);
        return 4 + length;
    }

    private static int WriteTimestamp(long microseconds, Span<byte> destination)
    {
        BinaryPrimitives.WriteInt32BigEndian(destination, 8);
        BinaryPrimitives.WriteInt64BigEndian(destination[4..], microseconds);
        return 12;
    }
}

using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Hermes.Ingest.Events;

namespace Hermes.Ingest.Sinks.Durable;

/// <summary>A batch read back from the spill: its events and the type names their <see cref="EventRecord.Type"/> indexes.</summary>
public sealed record SpillBatch(EventRecord[] Events, string[] TypeNames);

/// <summary>
/// One spilled batch on disk:
/// <code>
/// magic u32 "HSP1" | length u32 (of body) | count u32 | crc32 u32 (of count and body) | body
/// body: type-name count u8, then u8 length + UTF-8 per name; then per event:
///       type u8 | timestamp i64 | received-at-ms i64 | id, user id: i32 length + UTF-8 | payload: i32 length (-1 null) + UTF-8
/// </code>
/// Little-endian. The type names travel with the batch so a restart with other EVENT_TYPES still replays it right.
/// The magic lets a reader find the next record after a damaged one.
/// </summary>
public static class SpillRecord
{
    public const uint Magic = 0x31505348; // "HSP1" in little-endian byte order
    public const int HeaderBytes = 16;

    /// <summary>The least a spilled event can take (empty strings, null payload), to tell a plausible count from garbage.</summary>
    public const int MinEventBytes = 1 + 8 + 8 + 4 + 4 + 4;

    public static byte[] Encode(ReadOnlySpan<EventRecord> batch, IReadOnlyList<string> typeNames)
    {
        var size = HeaderBytes + 1;
        foreach (var name in typeNames)
        {
            size += 1 + Encoding.UTF8.GetByteCount(name);
        }

        foreach (ref readonly var e in batch)
        {
            size += MinEventBytes + Encoding.UTF8.GetByteCount(e.Id) + Encoding.UTF8.GetByteCount(e.UserId)
                + (e.Payload is null ? 0 : Encoding.UTF8.GetByteCount(e.Payload));
        }

        var record = new byte[size];
        var body = record.AsSpan(HeaderBytes);
        var at = 0;
        body[at++] = (byte)typeNames.Count;
        foreach (var name in typeNames)
        {
            var written = Encoding.UTF8.GetBytes(name, body[(at + 1)..]);
            body[at] = (byte)written;
            at += 1 + written;
        }

        foreach (ref readonly var e in batch)
        {
            body[at++] = e.Type;
            BinaryPrimitives.WriteInt64LittleEndian(body[at..], e.Timestamp);
            BinaryPrimitives.WriteInt64LittleEndian(body[(at + 8)..], e.ReceivedAtMs);
            at += 16;
            at += WriteString(body[at..], e.Id);
            at += WriteString(body[at..], e.UserId);
            at += WriteString(body[at..], e.Payload);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(record, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(record.AsSpan(4), size - HeaderBytes);
        BinaryPrimitives.WriteInt32LittleEndian(record.AsSpan(8), batch.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(12), Checksum(record.AsSpan(8, 4), body));
        return record;
    }

    public static uint Checksum(ReadOnlySpan<byte> count, ReadOnlySpan<byte> body)
    {
        var crc = new Crc32();
        crc.Append(count);
        crc.Append(body);
        return crc.GetCurrentHashAsUInt32();
    }

    /// <summary>Decodes a body whose checksum has passed.</summary>
    public static SpillBatch Decode(ReadOnlySpan<byte> body, int count)
    {
        var at = 0;
        var names = new string[body[at++]];
        for (var i = 0; i < names.Length; i++)
        {
            var length = body[at++];
            names[i] = Encoding.UTF8.GetString(body.Slice(at, length));
            at += length;
        }

        var events = new EventRecord[count];
        for (var i = 0; i < count; i++)
        {
            var type = body[at++];
            var timestamp = BinaryPrimitives.ReadInt64LittleEndian(body[at..]);
            var receivedAtMs = BinaryPrimitives.ReadInt64LittleEndian(body[(at + 8)..]);
            at += 16;
            var id = ReadString(body, ref at)!;
            var userId = ReadString(body, ref at)!;
            var payload = ReadString(body, ref at);
            events[i] = new EventRecord(id, userId, type, timestamp, payload, receivedAtMs);
        }

        if (at != body.Length)
        {
            throw new InvalidDataException($"Spill record body has {body.Length - at} bytes past its {count} events.");
        }

        return new SpillBatch(events, names);
    }

    private static int WriteString(Span<byte> destination, string? value)
    {
        if (value is null)
        {
            BinaryPrimitives.WriteInt32LittleEndian(destination, -1);
            return 4;
        }

        var written = Encoding.UTF8.GetBytes(value, destination[4..]);
        BinaryPrimitives.WriteInt32LittleEndian(destination, written);
        return 4 + written;
    }

    private static string? ReadString(ReadOnlySpan<byte> body, ref int at)
    {
        var length = BinaryPrimitives.ReadInt32LittleEndian(body[at..]);
        at += 4;
        if (length < 0)
        {
            return null;
        }

        var value = Encoding.UTF8.GetString(body.Slice(at, length));
        at += length;
        return value;
    }
}

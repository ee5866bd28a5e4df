using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Hermes.Client.Buffering;

/// <summary>
/// Writes one event as the NDJSON line Hermes reads (<c>{"id","user_id","type","timestamp","payload"}</c> and a
/// newline), at the moment of <c>Track</c>. Serializing then, not at send time, keeps a snapshot of the payload (the
/// caller may change its object afterwards), makes every retry send the same bytes, and leaves the sender only
/// concatenation and gzip. One exact-size array per event; the writer and its buffer are reused per thread.
/// </summary>
internal static class EventLine
{
    /// <summary>Bytes before the id in every line: <c>{"id":"</c>. The id is the 36 characters after them.</summary>
    public const int IdOffset = 7;

    public const int IdLength = 36;

    private const int KeptBufferBytes = 64 * 1024;

    // Payloads are not HTML: keep non-ASCII text as UTF-8 rather than \uXXXX escapes (up to 3x smaller). The
    // serializer writes through this writer, so its encoder applies to the payload too.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    [ThreadStatic]
    private static bool t_busy;

    /// <summary>The line for one event; <paramref name="payloadType"/> serializes <paramref name="payload"/> (none when null).</summary>
    public static byte[] Write(Guid id, string userId, string type, long timestamp, object? payload, JsonTypeInfo? payloadType)
    {
        // A payload converter that itself calls Track would find this thread's writer in use: give it its own.
        if (t_busy)
        {
            var own = new ArrayBufferWriter<byte>(256);
            using var ownWriter = new Utf8JsonWriter(own, WriterOptions);
            return Serialize(own, ownWriter, id, userId, type, timestamp, payload, payloadType);
        }

        t_busy = true;
        try
        {
            var buffer = t_buffer ??= new ArrayBufferWriter<byte>(512);
            buffer.ResetWrittenCount();
            var writer = t_writer ??= new Utf8JsonWriter(buffer, WriterOptions);
            writer.Reset(buffer);
            var line = Serialize(buffer, writer, id, userId, type, timestamp, payload, payloadType);
            if (buffer.Capacity > KeptBufferBytes)
            {
                // One huge payload must not pin its buffer to the thread for good.
                t_buffer = null;
                t_writer = null;
            }

            return line;
        }
        finally
        {
            t_busy = false;
        }
    }

    /// <summary>The event id written in <paramref name="line"/>, for log messages about that event.</summary>
    public static string IdOf(byte[] line) => System.Text.Encoding.UTF8.GetString(line, IdOffset, IdLength);

    private static byte[] Serialize(ArrayBufferWriter<byte> buffer, Utf8JsonWriter writer, Guid id, string userId, string type, long timestamp, object? payload, JsonTypeInfo? payloadType)
    {
        writer.WriteStartObject();
        writer.WriteString("id"u8, id);
        writer.WriteString("user_id"u8, userId);
        writer.WriteString("type"u8, type);
        writer.WriteNumber("timestamp"u8, timestamp);
        if (payload is not null && payloadType is not null)
        {
            writer.WritePropertyName("payload"u8);
            JsonSerializer.Serialize(writer, payload, payloadType);
        }

        writer.WriteEndObject();
        writer.Flush();

        var line = new byte[buffer.WrittenCount + 1];
        buffer.WrittenSpan.CopyTo(line);
        line[^1] = (byte)'\n';
        return line;
    }
}

using System.Buffers;
using System.Text.Json;
using Hermes.Ingest.Configuration;

namespace Hermes.Ingest.Events;

public enum BatchStatus
{
    Ok,
    Malformed,
    TooManyEvents,
}

/// <summary>One refused event of a batch: its 0-based index and why.</summary>
public readonly record struct BatchRejection(int Index, EventError Error);

/// <summary>
/// The valid events of one batch request (in a pooled array) and the refused ones with their indexes.
/// </summary>
public sealed class BatchOutcome(int maxEvents) : IDisposable
{
    private EventRecord[] _events = ArrayPool<EventRecord>.Shared.Rent(Math.Min(maxEvents, 1024));

    public int Count { get; private set; }

    public List<BatchRejection> Rejected { get; } = [];

    public ReadOnlySpan<EventRecord> Events => _events.AsSpan(0, Count);

    public void Add(in EventRecord record)
    {
        if (Count == _events.Length)
        {
            var larger = ArrayPool<EventRecord>.Shared.Rent(_events.Length * 2);
            Events.CopyTo(larger);
            ArrayPool<EventRecord>.Shared.Return(_events, clearArray: true);
            _events = larger;
        }

        _events[Count++] = record;
    }

    /// <summary>Ties every valid event to its request's trace and durable promise.</summary>
    public void AttachOrigin(EventOrigin origin)
    {
        foreach (ref var e in _events.AsSpan(0, Count))
        {
            e = e with { Origin = origin };
        }
    }

    public void Reject(int index, EventError error) => Rejected.Add(new BatchRejection(index, error));

    /// <summary>Writes <c>"rejected": [{"index": i, "field": …, "rule": …, "error": …}]</c>.</summary>
    public void WriteRejected(Utf8JsonWriter json)
    {
        json.WriteStartArray("rejected"u8);
        foreach (var (index, error) in Rejected)
        {
            json.WriteStartObject();
            json.WriteNumber("index"u8, index);
            json.WriteString("field"u8, error.Field);
            json.WriteString("rule"u8, error.Rule);
            json.WriteString("error"u8, error.Message);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    public void Dispose()
    {
        ArrayPool<EventRecord>.Shared.Return(_events, clearArray: true);
        _events = [];
        Count = 0;
    }
}

/// <summary>
/// Splits a batch body into events. A JSON array must be well-formed as a whole (one broken bracket and the rest
/// cannot be trusted, so the request is refused); NDJSON is judged line by line, so one bad line is one rejection.
/// </summary>
public static class BatchReader
{
    public readonly record struct Result(BatchStatus Status, string? Message = null);

    public static Result ReadArray(EventParser parser, ReadOnlySpan<byte> body, DateTimeOffset now, IngestOptions options, BatchOutcome outcome)
    {
        var nowSeconds = now.ToUnixTimeSeconds();
        var receivedAt = now.ToUnixTimeMilliseconds();
        var reader = new Utf8JsonReader(body, parser.ReaderOptions);
        try
        {
            if (!reader.Read())
            {
                return new(BatchStatus.Ok);
            }

            if (reader.TokenType != JsonTokenType.StartArray)
            {
                return new(BatchStatus.Malformed, "A batch is a JSON array of events ([{…},{…}]) or NDJSON with Content-Type application/x-ndjson.");
            }

            var index = 0;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (index == options.MaxBatchEvents)
                {
                    return new(BatchStatus.TooManyEvents);
                }

                if (parser.TryParseObject(ref reader, body, nowSeconds, receivedAt, out var record, out var error))
                {
                    outcome.Add(record);
                }
                else
                {
                    outcome.Reject(index, error);
                }

                index++;
            }

            // Anything after the closing bracket makes Read() throw.
            while (reader.Read())
            {
            }
        }
        catch (JsonException ex)
        {
            return new(BatchStatus.Malformed, $"The parser stopped at line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1}: {Describe(ex)} Nothing was queued.");
        }

        return new(BatchStatus.Ok);
    }

    public static Result ReadNdjson(EventParser parser, ReadOnlySpan<byte> body, DateTimeOffset now, IngestOptions options, BatchOutcome outcome)
    {
        var nowSeconds = now.ToUnixTimeSeconds();
        var receivedAt = now.ToUnixTimeMilliseconds();
        var index = 0;
        while (!body.IsEmpty)
        {
            var newline = body.IndexOf((byte)'\n');
            var line = newline < 0 ? body : body[..newline];
            body = newline < 0 ? default : body[(newline + 1)..];
            line = line.Trim(" \t\r"u8);
            if (line.IsEmpty)
            {
                continue;
            }

            if (index == options.MaxBatchEvents)
            {
                return new(BatchStatus.TooManyEvents);
            }

            if (line.Length > options.MaxEventBytes)
            {
                outcome.Reject(index++, new("event", "max-size", $"The line is {line.Length} bytes; an event may be at most {options.MaxEventBytes} (MAX_EVENT_BYTES)."));
                continue;
            }

            try
            {
                if (parser.TryParseDocument(line, nowSeconds, receivedAt, out var record, out var error))
                {
                    outcome.Add(record);
                }
                else
                {
                    outcome.Reject(index, error);
                }
            }
            catch (JsonException ex)
            {
                outcome.Reject(index, new("event", "json", $"The line is not valid JSON (byte {ex.BytePositionInLine + 1}): {Describe(ex)}"));
            }

            index++;
        }

        return new(BatchStatus.Ok);
    }

    /// <summary>The reader's message without its internal path and position suffix, which the caller reports itself.</summary>
    public static string Describe(JsonException ex)
    {
        var message = ex.Message;
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut].Trim() : message;
    }
}

using System.Buffers;
using System.IO.Compression;
using System.IO.Pipelines;

namespace Hermes.Ingest.Apis;

/// <summary>The outcome of reading a request body within its limits.</summary>
public enum BodyStatus
{
    Ok,
    TooLarge,
    InflatedTooLarge,
    CorruptGzip,
}

/// <summary>
/// A whole request body as one contiguous span. Small bodies are parsed where Kestrel put them (no copy); a body
/// spread over several pipe segments, or inflated from gzip, lives in a pooled array returned on dispose.
/// </summary>
public sealed class RequestBody : IDisposable
{
    private PipeReader? _reader;
    private ReadOnlySequence<byte> _sequence;
    private byte[]? _rented;
    private int _length;

    public ReadOnlySpan<byte> Span => _rented is not null ? _rented.AsSpan(0, _length) : _sequence.FirstSpan;

    public int Length => _rented is not null ? _length : (int)_sequence.Length;

    /// <summary>Reads the raw body, refusing it as soon as it passes <paramref name="limit"/> bytes.</summary>
    public static async ValueTask<(BodyStatus, RequestBody?)> ReadAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        var reader = request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (buffer.Length > limit)
            {
                reader.AdvanceTo(buffer.End);
                return (BodyStatus.TooLarge, null);
            }

            if (result.IsCompleted)
            {
                var body = new RequestBody();
                if (buffer.IsSingleSegment)
                {
                    // Keep the pipe's memory until Dispose; nothing is copied.
                    body._reader = reader;
                    body._sequence = buffer;
                }
                else
                {
                    body._rented = ArrayPool<byte>.Shared.Rent((int)buffer.Length);
                    buffer.CopyTo(body._rented);
                    body._length = (int)buffer.Length;
                    reader.AdvanceTo(buffer.End);
                }

                return (BodyStatus.Ok, body);
            }

            // Not complete yet: consume nothing, ask for more.
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>
    /// Inflates a gzip body while reading it and stops the moment the inflated size passes
    /// <paramref name="inflatedLimit"/>, so a small bomb never gets to expand in memory.
    /// </summary>
    public static async ValueTask<(BodyStatus, RequestBody?)> ReadGzipAsync(HttpRequest request, int inflatedLimit, CancellationToken cancellationToken)
    {
        var rented = ArrayPool<byte>.Shared.Rent(64 * 1024);
        var length = 0;
        try
        {
            await using var gzip = new GZipStream(request.Body, CompressionMode.Decompress, leaveOpen: true);
            while (true)
            {
                if (length == rented.Length)
                {
                    if (rented.Length > inflatedLimit)
                    {
                        return Fail(BodyStatus.InflatedTooLarge);
                    }

                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)rented.Length * 2, (long)inflatedLimit + 1));
                    rented.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(rented);
                    rented = larger;
                }

                var read = await gzip.ReadAsync(rented.AsMemory(length), cancellationToken);
                if (read == 0)
                {
                    break;
                }

                length += read;
                if (length > inflatedLimit)
                {
                    return Fail(BodyStatus.InflatedTooLarge);
                }
            }
        }
        catch (InvalidDataException)
        {
            return Fail(BodyStatus.CorruptGzip);
        }

        return (BodyStatus.Ok, new RequestBody { _rented = rented, _length = length });

        (BodyStatus, RequestBody?) Fail(BodyStatus status)
        {
            ArrayPool<byte>.Shared.Return(rented);
            return (status, null);
        }
    }

    public void Dispose()
    {
        if (_reader is not null)
        {
            _reader.AdvanceTo(_sequence.End);
            _reader = null;
        }

        if (_rented is not null)
        {
            ArrayPool<byte>.Shared.Return(_rented);
            _rented = null;
        }
    }
}

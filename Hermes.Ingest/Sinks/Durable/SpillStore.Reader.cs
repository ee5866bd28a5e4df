using System.Buffers.Binary;

namespace Hermes.Ingest.Sinks.Durable;

/// <summary>
/// The spill's one reader (replay): the oldest record first, each returned until acknowledged, a segment deleted once
/// all of it is written back or skipped as damaged.
/// </summary>
public sealed partial class SpillStore
{
    // Replay's position; touched only by the single reader.
    private Segment? _reading;
    private byte[] _content = [];
    private int _offset;
    private int _next;
    private int _pendingCount;

    /// <summary>
    /// The oldest batch not yet replayed, or null when the spill is empty. Damaged records are skipped and counted
    /// here. Call <see cref="Acknowledge"/> once the batch is written; until then the same batch is returned again.
    /// </summary>
    public async Task<SpillBatch?> ReadNextAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_reading is null && !await OpenOldestAsync(cancellationToken))
            {
                return null;
            }

            var remaining = _content.Length - _offset;
            if (remaining == 0)
            {
                await FinishSegmentAsync(cancellationToken);
                continue;
            }

            var at = _content.AsSpan(_offset);
            if (remaining < SpillRecord.HeaderBytes || BinaryPrimitives.ReadUInt32LittleEndian(at) != SpillRecord.Magic)
            {
                SkipDamaged(count: 0);
                continue;
            }

            var length = BinaryPrimitives.ReadInt32LittleEndian(at[4..]);
            var count = BinaryPrimitives.ReadInt32LittleEndian(at[8..]);
            var plausibleCount = count > 0 && length >= 0 && (long)count * SpillRecord.MinEventBytes <= length ? count : 0;
            if (length < 0 || length > remaining - SpillRecord.HeaderBytes
                || BinaryPrimitives.ReadUInt32LittleEndian(at[12..]) != SpillRecord.Checksum(at.Slice(8, 4), at.Slice(SpillRecord.HeaderBytes, length)))
            {
                SkipDamaged(plausibleCount);
                continue;
            }

            SpillBatch batch;
            try
            {
                batch = SpillRecord.Decode(at.Slice(SpillRecord.HeaderBytes, length), count);
            }
            catch (Exception ex) when (ex is InvalidDataException or ArgumentException or IndexOutOfRangeException)
            {
                SkipDamaged(plausibleCount);
                continue;
            }

            _next = _offset + SpillRecord.HeaderBytes + length;
            _pendingCount = count;
            return batch;
        }
    }

    /// <summary>The batch last returned by <see cref="ReadNextAsync"/> is written: move past it.</summary>
    public void Acknowledge()
    {
        if (_reading is null || _next <= _offset)
        {
            return;
        }

        _offset = _next;
        var events = Math.Min(_pendingCount, _reading.Events);
        _reading.Events -= events;
        _metrics.OnSpillChanged(0, -events);
        _pendingCount = 0;
    }

    private async Task<bool> OpenOldestAsync(CancellationToken cancellationToken)
    {
        Segment segment;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_segments.Count == 0 || (_segments[0] == _active && _active.Bytes == 0))
            {
                return false;
            }

            segment = _segments[0];
            if (segment == _active)
            {
                // Seal it: the next append starts a new segment, and this one no longer changes under the reader.
                CloseActive();
            }
        }
        finally
        {
            _gate.Release();
        }

        try
        {
            _content = await File.ReadAllBytesAsync(segment.Path, cancellationToken);
        }
        catch (IOException ex)
        {
            LogUnreadable(_logger, ex, segment.Path);
            _metrics.OnDropped(DropReason.Corrupt, segment.Events);
            _content = [];
        }

        _reading = segment;
        _offset = 0;
        _next = 0;
        return true;
    }

    private async Task FinishSegmentAsync(CancellationToken cancellationToken)
    {
        var segment = _reading!;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            File.Delete(segment.Path);
            _segments.Remove(segment);
            Volatile.Write(ref _bytes, _bytes - segment.Bytes);
            Volatile.Write(ref _full, false);
            _metrics.OnSpillChanged(-segment.Bytes, -segment.Events);
        }
        finally
        {
            _gate.Release();
        }

        _reading = null;
        _content = [];
    }

    /// <summary>Counts the damaged record's events as lost and moves to the next record start ("HSP1") or the end.</summary>
    private void SkipDamaged(int count)
    {
        var lost = Math.Min(count, _reading!.Events);
        _reading.Events -= lost;
        _metrics.OnSpillChanged(0, -lost);
        _metrics.OnDropped(DropReason.Corrupt, count);
        _metrics.OnCorruptRecord();
        LogDamaged(_logger, _reading.Path, _offset, count);

        Span<byte> magic = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(magic, SpillRecord.Magic);
        var found = _content.AsSpan(_offset + 1).IndexOf(magic);
        _offset = found < 0 ? _content.Length : _offset + 1 + found;
        _next = _offset;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not read spill segment {Path}; skipping it")]
    private static partial void LogUnreadable(ILogger logger, Exception exception, string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "Damaged spill record in {Path} at byte {Offset} ({Events} events lost); skipping to the next record")]
    private static partial void LogDamaged(ILogger logger, string path, int offset, int events);
}

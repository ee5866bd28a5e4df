using System.Globalization;
using Hermes.Ingest.Events;

namespace Hermes.Ingest.Sinks.Durable;

/// <summary>The spill's writer: appends a batch as one record to the active segment and fsyncs it before returning.</summary>
public sealed partial class SpillStore
{
    /// <summary>Appends one batch and fsyncs it.</summary>
    /// <returns>False when the batch was dropped (spill full or disk error), counted with its reason.</returns>
    public async Task<bool> AppendAsync(ReadOnlyMemory<EventRecord> batch, IReadOnlyList<string> typeNames, CancellationToken cancellationToken)
    {
        var record = SpillRecord.Encode(batch.Span, typeNames);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_bytes + record.Length > _options.SpillMaxBytes)
            {
                Volatile.Write(ref _full, true);
                _metrics.OnDropped(DropReason.SpillFull, batch.Length);
                LogFull(_logger, batch.Length, _options.SpillMaxBytes);
                return false;
            }

            if (_active is null || _active.Bytes >= _options.SpillSegmentBytes)
            {
                StartSegment();
            }

            // Synchronous write + fsync: one thread blocks for the few ms it takes, under the gate, so appends from
            // many workers queue on the semaphore without blocking their threads.
            _activeStream!.Write(record);
            _activeStream.Flush(flushToDisk: true);
            _active!.Bytes += record.Length;
            _active.Events += batch.Length;
            Volatile.Write(ref _bytes, _bytes + record.Length);
            Volatile.Write(ref _full, false);
            _metrics.OnSpillChanged(record.Length, batch.Length);
            return true;
        }
        catch (IOException ex)
        {
            _metrics.OnDropped(DropReason.SpillError, batch.Length);
            LogAppendFailed(_logger, ex, batch.Length, _options.SpillDirectory);
            CloseActive();
            return false;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Shutdown: close the segment being appended to (every append is already fsynced).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            CloseActive();
        }
        finally
        {
            _gate.Release();
        }
    }

    private void StartSegment()
    {
        CloseActive();
        var sequence = ++_nextSequence;
        var path = Path.Combine(_directory, sequence.ToString("D20", CultureInfo.InvariantCulture) + Extension);
        _activeStream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, bufferSize: 0);

        // The segment's records are fsynced as they are appended; this makes its directory entry durable too.
        DirectorySync.Flush(_directory);
        _active = new Segment(sequence, path);
        _segments.Add(_active);
    }

    private void CloseActive()
    {
        _activeStream?.Dispose();
        _activeStream = null;
        _active = null;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Spill is full ({MaxBytes} bytes): dropped a batch of {Events} events")]
    private static partial void LogFull(ILogger logger, int events, long maxBytes);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not append a batch of {Events} events to the spill in {Directory}: dropped")]
    private static partial void LogAppendFailed(ILogger logger, Exception exception, int events, string directory);
}

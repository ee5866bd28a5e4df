using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using Hermes.Ingest.Configuration;

namespace Hermes.Ingest.Sinks.Durable;

/// <summary>
/// Batches the destination could not take, on disk until replay: append-only segment files
/// (<c>00000000000000000001.spill</c>, …) of checksummed <see cref="SpillRecord"/>s in <c>SPILL_DIR</c>. Every
/// append is fsynced before it returns, so a batch handed to <see cref="AppendAsync"/> survives a crash. The one
/// reader (replay) takes the oldest segment, sealing it first if appends are still going to it, and deletes it
/// once every record in it is replayed or skipped as damaged.
/// </summary>
public sealed partial class SpillStore : IDisposable
{
    private const string Extension = ".spill";
    private const string LockFileName = ".lock";

    private readonly string _directory;
    private readonly DurableSinkOptions _options;
    private readonly DurableSinkMetrics _metrics;
    private readonly ILogger<SpillStore> _logger;
    private readonly FileStream _lock;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly List<Segment> _segments = [];
    private long _bytes;
    private bool _full;
    private long _nextSequence;
    private Segment? _active;
    private FileStream? _activeStream;

    public SpillStore(DurableSinkOptions options, DurableSinkMetrics metrics, ILogger<SpillStore> logger)
        : this(options.SpillDirectory, LockOwnDirectory(options), options, metrics, logger)
    {
    }

    private SpillStore(string directory, FileStream lockFile, DurableSinkOptions options, DurableSinkMetrics metrics, ILogger<SpillStore> logger)
    {
        _directory = directory;
        _lock = lockFile;
        _options = options;
        _metrics = metrics;
        _logger = logger;
        foreach (var path in Directory.EnumerateFiles(directory, "*" + Extension).Order(StringComparer.Ordinal))
        {
            if (!long.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
            {
                continue;
            }

            var segment = new Segment(sequence, path) { Bytes = new FileInfo(path).Length };
            segment.Events = CountEvents(path);
            _segments.Add(segment);
            _bytes += segment.Bytes;
            _nextSequence = Math.Max(_nextSequence, sequence);
            metrics.OnSpillChanged(segment.Bytes, segment.Events);
        }

        if (_segments.Count > 0)
        {
            LogFound(logger, _segments.Count, _bytes, _segments.Sum(s => s.Events), directory);
        }
    }

    /// <summary>
    /// Takes a spill directory that another instance left (SPILL_SHARED), for replay. Null when a live instance holds
    /// its lock, or when it is not a spill directory or no longer exists (another instance finished it first).
    /// </summary>
    public static SpillStore? TryAdopt(string directory, DurableSinkOptions options, DurableSinkMetrics metrics, ILogger<SpillStore> logger)
    {
        FileStream lockFile;
        try
        {
            // Open, never create: a directory without a lock file is not (yet) a spill directory.
            lockFile = new FileStream(Path.Combine(directory, LockFileName), FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        try
        {
            // Names are never reused, so a directory deleted by an adopter that held this lock just before stays gone.
            return Directory.Exists(directory) ? new SpillStore(directory, lockFile, options, metrics, logger) : Release(lockFile);
        }
        catch (DirectoryNotFoundException)
        {
            return Release(lockFile);
        }

        static SpillStore? Release(FileStream lockFile)
        {
            lockFile.Dispose();
            return null;
        }
    }

    /// <summary>
    /// The directories under the SPILL_SHARED root other than this instance's own: candidates for
    /// <see cref="TryAdopt"/>. Names starting with a dot are directories still being set up (see LockOwnDirectory).
    /// </summary>
    public static IEnumerable<string> Siblings(DurableSinkOptions options) =>
        options.SpillRoot is { } root && Directory.Exists(root)
            ? Directory.EnumerateDirectories(root)
                .Where(d => !Path.GetFileName(d).StartsWith('.') && !string.Equals(Path.GetFullPath(d), options.SpillDirectory, StringComparison.Ordinal))
                .Order(StringComparer.Ordinal)
            : [];

    /// <summary>Deletes an adopted directory once nothing in it waits for replay (the lock goes last, with the directory).</summary>
    public void DeleteDirectory()
    {
        Debug.Assert(_segments.Count == 0, "only a fully replayed directory is deleted");
        Directory.Delete(_directory, recursive: true);
        DirectorySync.Flush(Path.GetDirectoryName(_directory)!);
    }

    public string SpillDirectory => _directory;

    /// <summary>The options this store was opened with (for an adopted directory, the adopter's).</summary>
    public DurableSinkOptions Options => _options;

    /// <summary>True when nothing waits for replay (racy by nature; replay re-checks).</summary>
    public bool IsEmpty => Volatile.Read(ref _bytes) == 0;

    /// <summary>True from a batch refused for room until an append fits again or replay frees a segment.</summary>
    public bool IsFull => Volatile.Read(ref _full) || Volatile.Read(ref _bytes) >= _options.SpillMaxBytes;

    public void Dispose()
    {
        CloseActive();
        _lock.Dispose();
        _gate.Dispose();
    }

    /// <summary>
    /// Creates (if needed) and locks this instance's own directory. With SPILL_SHARED the directory is made and locked
    /// under a dot-name first and then renamed into place, so no adopter ever sees it unlocked.
    /// </summary>
    private static FileStream LockOwnDirectory(DurableSinkOptions options)
    {
        var directory = options.SpillDirectory;
        try
        {
            if (!options.SpillShared)
            {
                Directory.CreateDirectory(directory);

                // FileShare.None takes an exclusive flock: two instances sharing one spill would replay each other's data.
                return new FileStream(Path.Combine(directory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }

            var staging = Path.Combine(options.SpillRoot!, "." + Path.GetFileName(directory));
            Directory.CreateDirectory(staging);
            var lockFile = new FileStream(Path.Combine(staging, LockFileName), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
            Directory.Move(staging, directory);
            DirectorySync.Flush(options.SpillRoot!);
            return lockFile;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            var reason = ex is IOException && Directory.Exists(directory)
                ? "it is in use by another Hermes instance (give each instance its own)"
                : "it cannot be created or written (" + ex.Message + ")";
            var name = options.SpillShared ? $"SPILL_DIR={options.SpillRoot} (SPILL_SHARED)" : $"SPILL_DIR={directory}";
            throw new InvalidSettingException([$"{name} is invalid: {reason}."]);
        }
    }

    /// <summary>Events in the well-formed records of a segment left by an earlier run (headers only, no checksums).</summary>
    private static long CountEvents(string path)
    {
        using var file = File.OpenHandle(path);
        var length = RandomAccess.GetLength(file);
        Span<byte> header = stackalloc byte[SpillRecord.HeaderBytes];
        long offset = 0, events = 0;
        while (offset + SpillRecord.HeaderBytes <= length
            && RandomAccess.Read(file, header, offset) == SpillRecord.HeaderBytes
            && BinaryPrimitives.ReadUInt32LittleEndian(header) == SpillRecord.Magic)
        {
            var bodyLength = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
            if (bodyLength < 0 || offset + SpillRecord.HeaderBytes + bodyLength > length)
            {
                break;
            }

            events += BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
            offset += SpillRecord.HeaderBytes + bodyLength;
        }

        return events;
    }

    private sealed class Segment(long sequence, string path)
    {
        public long Sequence { get; } = sequence;

        public string Path { get; } = path;

        public long Bytes { get; set; }

        public long Events { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Found {Segments} spill segments ({Bytes} bytes, {Events} events) in {Directory} from an earlier run; replaying them")]
    private static partial void LogFound(ILogger logger, int segments, long bytes, long events, string directory);
}

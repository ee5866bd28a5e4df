using System.Text.Json;
using Hermes.Ingest.Telemetry;

namespace Hermes.Ingest.Sinks.Durable;

/// <summary>
/// What a crash can cost, written down before it happens. Every 100 ms (and once the workers have drained) Hermes
/// records in <c>SPILL_DIR/run.json</c> how many events it has answered <c>202</c> and how many of those the sink has
/// stored (written or fsynced to the spill). On the next start, a ledger not marked clean means the process died
/// (SIGKILL, OOM, power): Hermes logs exactly how many events were answered 202 but not yet stored at the last
/// checkpoint (plus any accepted in the ≤ 100 ms after it), exports it as <c>hermes_previous_run_at_risk_events</c>,
/// and shows it in <c>/stats</c>. <c>?ack=durable</c> events are never among them: they were stored before the
/// answer. Part of the durable layer: the in-memory sink keeps nothing across restarts anyway.
/// <para>
/// The previous run is read, and this one marked as running, when the ledger is opened: with the sink, before any
/// hosted service starts, so the first <c>/stats</c> snapshot already shows it. The clean mark must follow the
/// workers' drain. The host stops this service before it stops the workers (it is registered after them), so
/// stopping changes nothing here: checkpoints go on through the drain, and
/// <see cref="Close"/>, called by the sink's flush once the workers are done, writes the last entry. A drain cut
/// short by SHUTDOWN_TIMEOUT never reaches that flush; disposal at exit then writes the last entry instead, marked
/// clean only if everything answered 202 was stored all the same.
/// </para>
/// </summary>
public sealed partial class RunLedger : IHostedService, IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    private const string FileName = "run.json";

    private readonly Lock _previousLock = new();
    private readonly Lock _writeLock = new();
    private readonly CancellationTokenSource _stop = new();

    private readonly IngestMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<RunLedger> _logger;
    private readonly string _path;
    private (long Accepted, long Stored) _written = (-1, -1);
    private bool _closed;
    private int _closing;

    /// <summary>
    /// The previous runs' unclean-exit report, or null when they stopped cleanly (or there were none): this directory's
    /// last run, and with SPILL_SHARED every dead instance's directory adopted since start, summed.
    /// </summary>
    public PreviousRun? Previous { get; private set; }

    public RunLedger(IngestMetrics metrics, SpillStore spill, TimeProvider time, ILogger<RunLedger> logger)
    {
        _metrics = metrics;
        _time = time;
        _logger = logger;

        // The spill store created and locked the directory (with SPILL_SHARED, a new one), so the file is ours alone.
        _path = Path.Combine(spill.SpillDirectory, FileName);
        Report(_path);
        metrics.SetPreviousRunAtRisk(Previous?.AtRisk ?? 0);
        Write(clean: false);
    }

    /// <summary>Checkpoints every 100 ms from now on.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = CheckpointAsync(_stop.Token);
        return Task.CompletedTask;
    }

    /// <summary>Nothing to do yet: the workers have not drained (see the class remarks).</summary>
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// The workers have drained: the last entry, clean only if everything answered 202 was stored (a drain cut short
    /// leaves the count at risk for the next start to report). Later checkpoints are not written.
    /// </summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closing, 1) == 0)
        {
            _stop.Cancel();
            Write(clean: _metrics.AcceptedNonDurable == _metrics.StoredNonDurable, last: true);
        }
    }

    public void Dispose()
    {
        Close();
        _stop.Dispose();
    }

    /// <summary>
    /// A dead instance's spill directory was adopted (SPILL_SHARED): report its ledger as a previous run, then delete it,
    /// so an adopter that dies mid-replay does not make the next one report the same losses twice.
    /// </summary>
    public void ReportAdopted(string directory)
    {
        var path = Path.Combine(directory, FileName);
        Report(path);
        _metrics.SetPreviousRunAtRisk(Previous?.AtRisk ?? 0);
        File.Delete(path);
        File.Delete(path + ".tmp");
        DirectorySync.Flush(directory);
    }

    private void Report(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }

        try
        {
            var last = JsonSerializer.Deserialize(File.ReadAllBytes(path), RunLedgerJson.Default.LedgerEntry);
            if (last is { Clean: false })
            {
                var run = new PreviousRun(last.Pid, DateTimeOffset.FromUnixTimeMilliseconds(last.UpdatedAtMs), Math.Max(0, last.Accepted - last.Stored));
                LogUnclean(_logger, last.Pid, run.CheckpointAt, run.AtRisk, Interval.TotalMilliseconds, Path.GetDirectoryName(path)!);
                lock (_previousLock)
                {
                    Previous = Previous is { } earlier ? run with { AtRisk = earlier.AtRisk + run.AtRisk, Runs = earlier.Runs + 1 } : run;
                }
            }
        }
        catch (JsonException ex)
        {
            LogUnreadable(_logger, path, ex.Message);
        }
    }

    private async Task CheckpointAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                Write(clean: false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Write(bool clean, bool last = false)
    {
        lock (_writeLock)
        {
            if (_closed)
            {
                return;
            }

            _closed = last;
            var now = (_metrics.AcceptedNonDurable, _metrics.StoredNonDurable);
            if (!clean && !last && now == _written)
            {
                return;
            }

            var entry = new LedgerEntry(Environment.ProcessId, _time.GetUtcNow().ToUnixTimeMilliseconds(), now.AcceptedNonDurable, now.StoredNonDurable, clean);
            var temporary = _path + ".tmp";
            try
            {
                using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.WriteThrough))
                {
                    JsonSerializer.Serialize(file, entry, RunLedgerJson.Default.LedgerEntry);
                    file.Flush(flushToDisk: true);
                }

                File.Move(temporary, _path, overwrite: true);
                _written = now;
            }
            catch (IOException ex)
            {
                LogWriteFailed(_logger, _path, ex.Message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The previous run (pid {Pid}) did not shut down cleanly. At its last checkpoint ({CheckpointAt:O}) {AtRisk} events had been answered 202 but not yet stored; they, and any answered in the {IntervalMs} ms after it, may be lost. Events answered 200 with ?ack=durable were stored before their answer; spilled batches are being replayed. Spill directory: {Directory}")]
    private static partial void LogUnclean(ILogger logger, int pid, DateTimeOffset checkpointAt, long atRisk, double intervalMs, string directory);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The run ledger {Path} could not be read ({Error}); the previous run's losses are unknown")]
    private static partial void LogUnreadable(ILogger logger, string path, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not write the run ledger {Path}: {Error}")]
    private static partial void LogWriteFailed(ILogger logger, string path, string error);
}

/// <summary>
/// Unclean previous runs: the last one's pid and checkpoint, and how many events answered 202 were not stored, summed
/// over <paramref name="Runs"/> runs (more than one only when SPILL_SHARED adopted several dead instances' directories).
/// </summary>
public sealed record PreviousRun(int Pid, DateTimeOffset CheckpointAt, long AtRisk, int Runs = 1);

public sealed record LedgerEntry(int Pid, long UpdatedAtMs, long Accepted, long Stored, bool Clean);

[System.Text.Json.Serialization.JsonSerializable(typeof(LedgerEntry))]
internal sealed partial class RunLedgerJson : System.Text.Json.Serialization.JsonSerializerContext;

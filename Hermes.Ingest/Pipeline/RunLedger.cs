using System.Text.Json;
using Hermes.Ingest.Telemetry;
using Hermes.Ingest.Sinks.Spill;

namespace Hermes.Ingest.Pipeline;

/// <summary>
/// What a crash can cost, written down before it happens. Every 100 ms (and at a clean stop) Hermes records in
/// <c>SPILL_DIR/run.json</c> how many events it has answered <c>202</c> and how many of those the sink has stored
/// (committed or fsynced to the spill). On the next start, a ledger not marked clean means the process died
/// (SIGKILL, OOM, power): Hermes logs exactly how many events were answered 202 but not yet stored at the last
/// checkpoint (plus any accepted in the ≤ 100 ms after it), exports it as <c>hermes_previous_run_at_risk_events</c>,
/// and shows it in <c>/stats</c>. <c>?ack=durable</c> events are never among them: they were stored before the
/// answer. Only with a durable sink: the in-memory sink keeps nothing across restarts anyway.
/// </summary>
public sealed partial class RunLedger(IngestMetrics metrics, IServiceProvider services, TimeProvider time, ILogger<RunLedger> logger)
    : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    private const string FileName = "run.json";

    private readonly Lock _previousLock = new();

    // Registered always (before the workers, so it stops after their drain); inert without a durable sink.
    private string? _path;
    private (long Accepted, long Stored) _written = (-1, -1);

    /// <summary>
    /// The previous runs' unclean-exit report, or null when they stopped cleanly (or there were none): this directory's
    /// last run, and with SPILL_SHARED every dead instance's directory adopted since start, summed.
    /// </summary>
    public PreviousRun? Previous { get; private set; }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // The spill store creates and locks the directory (with SPILL_SHARED, a new one), so the ledger is ours alone.
        if (services.GetService<SpillStore>() is not { } spill)
        {
            return Task.CompletedTask;
        }

        _path = Path.Combine(spill.SpillDirectory, FileName);
        Report(_path);
        metrics.SetPreviousRunAtRisk(Previous?.AtRisk ?? 0);
        Write(clean: false);
        return base.StartAsync(cancellationToken);
    }

    /// <summary>
    /// A dead instance's spill directory was adopted (SPILL_SHARED): report its ledger as a previous run, then delete it,
    /// so an adopter that dies mid-replay does not make the next one report the same losses twice.
    /// </summary>
    public void ReportAdopted(string directory)
    {
        var path = Path.Combine(directory, FileName);
        Report(path);
        metrics.SetPreviousRunAtRisk(Previous?.AtRisk ?? 0);
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
                LogUnclean(logger, last.Pid, run.CheckpointAt, run.AtRisk, Interval.TotalMilliseconds, Path.GetDirectoryName(path)!);
                lock (_previousLock)
                {
                    Previous = Previous is { } earlier ? run with { AtRisk = earlier.AtRisk + run.AtRisk, Runs = earlier.Runs + 1 } : run;
                }
            }
        }
        catch (JsonException ex)
        {
            LogUnreadable(logger, path, ex.Message);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
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

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_path is null)
        {
            return;
        }

        await base.StopAsync(cancellationToken);

        // Stopped after the workers. Clean only if their drain stored everything answered 202: a drain cut short
        // by SHUTDOWN_TIMEOUT leaves the count at risk for the next start to report.
        Write(clean: metrics.AcceptedNonDurable == metrics.StoredNonDurable);
    }

    private void Write(bool clean)
    {
        if (_path is null)
        {
            return;
        }

        var now = (metrics.AcceptedNonDurable, metrics.StoredNonDurable);
        if (!clean && now == _written)
        {
            return;
        }

        var entry = new LedgerEntry(Environment.ProcessId, time.GetUtcNow().ToUnixTimeMilliseconds(), now.AcceptedNonDurable, now.StoredNonDurable, clean);
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
            LogWriteFailed(logger, _path, ex.Message);
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

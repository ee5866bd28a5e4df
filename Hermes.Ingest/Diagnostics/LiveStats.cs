using System.Globalization;
using System.Text.Json;
using Hermes.Contracts;
using Hermes.Ingest.Aggregation;
using Hermes.Ingest.Configuration;
using Hermes.Ingest.Pipeline;
using Hermes.Ingest.Sinks;
using Hermes.Ingest.Telemetry;
using Microsoft.Extensions.Options;

namespace Hermes.Ingest.Diagnostics;

/// <summary>
/// Once a second, builds one snapshot of the pipeline (rates, queue, workers, flush latency, rejections, the sink's
/// own state as it describes it, and the last hour of per-minute counts) as the shared <see cref="StatsSnapshot"/>
/// record, and hands the same JSON bytes to every reader of <c>GET /stats</c> and <c>GET /aggregates/stream</c>.
/// Work is per second, not per subscriber, so ten dashboards cost what one does.
/// </summary>
public sealed partial class LiveStats(
    IngestMetrics metrics,
    EventQueue queue,
    MinuteAggregator aggregator,
    IEventSink sink,
    IOptions<IngestOptions> options,
    TimeProvider time,
    ILogger<LiveStats> logger) : BackgroundService
{
    /// <summary>How far back the snapshot's per-minute counts reach.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(60);

    private TaskCompletionSource<byte[]> _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private byte[]? _latest;
    private long _lastAccepted = -1;
    private long _lastTimestamp;

    /// <summary>The most recent snapshot (built on demand before the first tick).</summary>
    public byte[] Latest => Volatile.Read(ref _latest) ?? Build(0);

    /// <summary>Completes with the next snapshot.</summary>
    public Task<byte[]> NextAsync(CancellationToken cancellationToken) => Volatile.Read(ref _next).Task.WaitAsync(cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), time);
        try
        {
            do
            {
                var accepted = metrics.Accepted;
                var now = time.GetTimestamp();
                var elapsed = time.GetElapsedTime(_lastTimestamp, now).TotalSeconds;
                var rate = _lastAccepted < 0 || elapsed <= 0 ? 0 : (accepted - _lastAccepted) / elapsed;
                (_lastAccepted, _lastTimestamp) = (accepted, now);

                try
                {
                    var snapshot = Build(rate);
                    Volatile.Write(ref _latest, snapshot);
                    Interlocked.Exchange(ref _next, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult(snapshot);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The live view must never take the pipeline down with it (a BackgroundService that throws stops the host).
                    LogSnapshotFailed(logger, ex);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException)
        {
        }
    }

    private byte[] Build(double eventsPerSecond)
    {
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        var from = (nowMs / 1000) - (long)Window.TotalSeconds;
        var (p50, p99) = metrics.RecentFlushLatency();
        var rejected = new Dictionary<string, long>(IngestMetrics.ReasonLabels.Length, StringComparer.Ordinal);
        for (var i = 0; i < IngestMetrics.ReasonLabels.Length; i++)
        {
            rejected[IngestMetrics.ReasonLabels[i]] = metrics.Rejected((RejectReason)i);
        }

        var snapshot = new StatsSnapshot
        {
            Time = nowMs,
            Instance = Environment.MachineName + ":" + Environment.ProcessId,
            EventsPerSecond = Math.Round(eventsPerSecond, 1),
            Accepted = metrics.Accepted,
            Flushed = metrics.Flushed,
            Rejected = rejected,
            Queue = new() { Length = queue.Length, Capacity = queue.Capacity, OldestAgeSeconds = queue.HeadAge?.TotalSeconds ?? 0 },
            Workers = new() { Count = options.Value.WorkerCount, Busy = metrics.BusyWorkers },
            Flush = new() { Batches = metrics.Flushes, P50Ms = Math.Round(p50.TotalMilliseconds, 3), P99Ms = Math.Round(p99.TotalMilliseconds, 3) },
            Sink = sink.Describe(),
            PreviousRun = sink.PreviousRun,
            Aggregates = Counts(aggregator.Snapshot(from: from - (from % 60))),
        };

        return JsonSerializer.SerializeToUtf8Bytes(snapshot, ContractsJsonContext.Default.StatsSnapshot);
    }

    /// <summary>The shape of <c>GET /aggregates</c>: <c>"&lt;type&gt;:&lt;minute&gt;"</c>, in the snapshot's order.</summary>
    private static Dictionary<string, long> Counts(List<AggregateCount> counts)
    {
        var keyed = new Dictionary<string, long>(counts.Count, StringComparer.Ordinal);
        foreach (var (type, minute, count) in counts)
        {
            keyed[type + ":" + minute.ToString(CultureInfo.InvariantCulture)] = count;
        }

        return keyed;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Building the live stats snapshot failed; /stats keeps the previous one")]
    private static partial void LogSnapshotFailed(ILogger logger, Exception exception);
}

using System.Text.Json;
using Hermes.Ingest.Aggregation;
using Hermes.Ingest.Apis;
using Hermes.Ingest.Configuration;
using Hermes.Ingest.Pipeline;
using Hermes.Ingest.Sinks;
using Hermes.Ingest.Sinks.Postgres;

namespace Hermes.Ingest.Diagnostics;

/// <summary>
/// Once a second, builds one JSON snapshot of the pipeline (rates, queue, workers, flush latency, rejections, sink
/// and breaker state, and the last hour of per-minute counts) and hands the same bytes to every reader of
/// <c>GET /stats</c> and <c>GET /aggregates/stream</c>. Work is per second, not per subscriber, so ten dashboards
/// cost what one does.
/// </summary>
public sealed partial class LiveStats(
    IngestMetrics metrics,
    EventQueue queue,
    MinuteAggregator aggregator,
    IEventSink sink,
    IngestOptions options,
    TimeProvider time,
    IServiceProvider services,
    ILogger<LiveStats> logger) : BackgroundService
{
    /// <summary>How far back the snapshot's per-minute counts reach.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(60);

    private readonly PostgresSinkMetrics? _db = services.GetService<PostgresSinkMetrics>();
    private readonly PostgresSinkOptions? _dbOptions = services.GetService<PostgresSinkOptions>();
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

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("time", nowMs);
            json.WriteString("instance", Environment.MachineName + ":" + Environment.ProcessId);
            json.WriteNumber("eventsPerSecond", Math.Round(eventsPerSecond, 1));
            json.WriteNumber("accepted", metrics.Accepted);
            json.WriteNumber("flushed", metrics.Flushed);
            json.WriteStartObject("rejected");
            for (var i = 0; i < IngestMetrics.ReasonLabels.Length; i++)
            {
                json.WriteNumber(IngestMetrics.ReasonLabels[i], metrics.Rejected((RejectReason)i));
            }

            json.WriteEndObject();

            json.WriteStartObject("queue");
            json.WriteNumber("length", queue.Length);
            json.WriteNumber("capacity", queue.Capacity);
            json.WriteNumber("oldestAgeSeconds", queue.HeadAge?.TotalSeconds ?? 0);
            json.WriteEndObject();

            json.WriteStartObject("workers");
            json.WriteNumber("count", options.WorkerCount);
            json.WriteNumber("busy", metrics.BusyWorkers);
            json.WriteEndObject();

            json.WriteStartObject("flush");
            json.WriteNumber("batches", metrics.Flushes);
            json.WriteNumber("p50Ms", Math.Round(p50.TotalMilliseconds, 3));
            json.WriteNumber("p99Ms", Math.Round(p99.TotalMilliseconds, 3));
            json.WriteEndObject();

            json.WriteStartObject("sink");
            json.WriteString("name", sink.Name);
            json.WriteBoolean("durable", sink.IsDurable);
            if (_db is not null)
            {
                json.WriteString("circuit", _db.CircuitState switch { 1 => "open", 2 => "half-open", _ => "closed" });
                json.WriteNumber("rowsWritten", _db.RowsWritten);
                json.WriteNumber("spillBytes", _db.SpillBytes);
                json.WriteNumber("spillEvents", _db.SpillEvents);
                json.WriteNumber("deadLetters", _db.DeadLetters);
                json.WriteNumber("dropped",
                    Enum.GetValues<DropReason>().Sum(_db.Dropped));
                WriteStorage(json, _db, _dbOptions!);
            }

            json.WriteEndObject();

            if (services.GetService<RunLedger>()?.Previous is { } previous)
            {
                json.WriteStartObject("previousRun");
                json.WriteBoolean("clean", false);
                json.WriteNumber("pid", previous.Pid);
                json.WriteNumber("checkpointAt", previous.CheckpointAt.ToUnixTimeMilliseconds());
                json.WriteNumber("atRiskEvents", previous.AtRisk);
                json.WriteNumber("runs", previous.Runs);
                json.WriteEndObject();
            }

            json.WritePropertyName("aggregates");
            AggregatesApi.WriteCounts(json, aggregator.Snapshot(from: from - (from % 60)));
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>Time partitions per table and what retention has removed since this instance started.</summary>
    private static void WriteStorage(Utf8JsonWriter json, PostgresSinkMetrics db, PostgresSinkOptions options)
    {
        json.WriteStartObject("storage");
        json.WriteString("partitionInterval", GoDuration.Format(options.PartitionInterval));
        json.WriteStartObject("partitions");
        foreach (var table in PartitionedTable.All)
        {
            json.WriteNumber(table.Name, db.Partitions(table));
        }

        json.WriteEndObject();
        json.WriteStartObject("retention");
        json.WriteString("events", options.EventRetention > TimeSpan.Zero ? GoDuration.Format(options.EventRetention) : "keep");
        json.WriteString("rollups", options.RollupRetention > TimeSpan.Zero ? GoDuration.Format(options.RollupRetention) : "keep");
        json.WriteStartObject("droppedPartitions");
        foreach (var table in PartitionedTable.All)
        {
            json.WriteNumber(table.Name, db.PartitionsDropped(table));
        }

        json.WriteEndObject();
        json.WriteNumber("droppedEvents", db.RetentionEventsDropped);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Building the live stats snapshot failed; /stats keeps the previous one")]
    private static partial void LogSnapshotFailed(ILogger logger, Exception exception);
}

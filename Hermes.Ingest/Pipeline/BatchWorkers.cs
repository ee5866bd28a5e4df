using System.Diagnostics;
using Hermes.Ingest.Aggregation;
using Hermes.Ingest.Configuration;
using Hermes.Ingest.Diagnostics;
using Hermes.Ingest.Events;
using Hermes.Ingest.Sinks;

namespace Hermes.Ingest.Pipeline;

/// <summary>
/// The fixed pool of <c>WORKER_COUNT</c> workers. Each takes events from the <see cref="EventQueue"/> into its own
/// buffer and flushes it (aggregator, then sink) when <c>BATCH_SIZE</c> events are buffered or
/// <c>FLUSH_INTERVAL</c> has passed since the first of them. No task per request, no shared batch.
/// <para>
/// At shutdown the host stops Kestrel first (in-flight requests finish, new ones get 503 from the closed
/// <see cref="IntakeGate"/>), then stops this service: every worker drains the queue to empty, flushes its buffer,
/// and the sink is flushed. Everything answered 202 reaches the sink.
/// </para>
/// </summary>
public sealed partial class BatchWorkers(
    EventQueue queue,
    MinuteAggregator aggregator,
    IEventSink sink,
    IngestMetrics metrics,
    IngestOptions options,
    TimeProvider time,
    ILogger<BatchWorkers> logger) : BackgroundService
{
    private static readonly ActivitySource Tracing = new(HermesTelemetry.ActivitySourceName);

    private long _stopRequestedTimestamp;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogStarting(logger, options.WorkerCount, options.BatchSize, options.FlushInterval, sink.Name);
        stoppingToken.Register(() =>
        {
            _stopRequestedTimestamp = Stopwatch.GetTimestamp();
            LogDraining(logger, queue.Length);
        });

        var workers = new Task<long>[options.WorkerCount];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = Task.Run(() => RunWorkerAsync(stoppingToken), CancellationToken.None);
        }

        var drained = (await Task.WhenAll(workers)).Sum();
        await sink.FlushAsync(CancellationToken.None);
        LogDrained(logger, drained, Stopwatch.GetElapsedTime(_stopRequestedTimestamp).TotalMilliseconds, metrics.Accepted, metrics.Flushed);
    }

    /// <returns>How many events this worker flushed after shutdown began.</returns>
    private async Task<long> RunWorkerAsync(CancellationToken stoppingToken)
    {
        var buffer = new EventRecord[options.BatchSize];
        var count = 0;
        var deadline = 0L;
        var flushTicks = (long)(options.FlushInterval.TotalSeconds * time.TimestampFrequency);
        var drainedAfterStop = 0L;

        while (true)
        {
            var before = count;
            while (count < buffer.Length && queue.TryDequeue(out buffer[count]))
            {
                if (count == 0)
                {
                    deadline = time.GetTimestamp() + flushTicks;
                }

                count++;
            }

            if (count > before)
            {
                queue.NotifySpace();
            }

            var stopping = stoppingToken.IsCancellationRequested;
            if (count == buffer.Length || (count > 0 && (stopping || time.GetTimestamp() >= deadline)))
            {
                if (stopping)
                {
                    drainedAfterStop += count;
                }

                await FlushAsync(buffer, count);
                count = 0;
                continue;
            }

            if (stopping)
            {
                // Intake is closed and in-flight requests have finished, so an empty queue stays empty.
                return drainedAfterStop;
            }

            try
            {
                var wait = count == 0 ? Timeout.InfiniteTimeSpan : Remaining(deadline);
                await queue.WaitForItemsAsync(wait, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                // Shutdown: go round once more to drain.
            }
        }
    }

    private async ValueTask FlushAsync(EventRecord[] buffer, int count)
    {
        using var activity = Tracing.StartActivity("hermes.flush");
        activity?.SetTag("hermes.batch.size", count);
        activity?.SetTag("hermes.sink", sink.Name);

        metrics.OnFlushStarted();
        var started = time.GetTimestamp();
        var batch = new ReadOnlyMemory<EventRecord>(buffer, 0, count);
        var succeeded = false;
        try
        {
            aggregator.Add(batch.Span);
            await sink.WriteAsync(batch, CancellationToken.None);
            succeeded = true;
        }
        catch (Exception ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            LogFlushFailed(logger, ex, count, sink.Name);
        }
        finally
        {
            metrics.OnFlushed(count, time.GetElapsedTime(started), succeeded);

            // Let the strings go now rather than when this slot is next overwritten.
            Array.Clear(buffer, 0, count);
        }
    }

    private TimeSpan Remaining(long deadline)
    {
        var remaining = time.GetElapsedTime(time.GetTimestamp(), deadline);

        // Waits run on real time; re-checking at least every 100 ms keeps a test's fake clock honoured too.
        return remaining <= TimeSpan.Zero ? TimeSpan.Zero : TimeSpan.FromTicks(Math.Min(remaining.Ticks, TimeSpan.TicksPerMillisecond * 100));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Starting {Workers} workers (batch {BatchSize}, flush interval {FlushInterval}) writing to the {Sink} sink")]
    private static partial void LogStarting(ILogger logger, int workers, int batchSize, TimeSpan flushInterval, string sink);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shutdown requested: draining {Queued} queued events")]
    private static partial void LogDraining(ILogger logger, long queued);

    [LoggerMessage(Level = LogLevel.Information, Message = "Drained {Drained} events in {ElapsedMs:F0} ms; {Accepted} accepted and {Flushed} flushed since start")]
    private static partial void LogDrained(ILogger logger, long drained, double elapsedMs, long accepted, long flushed);

    [LoggerMessage(Level = LogLevel.Error, Message = "Writing a batch of {Count} events to the {Sink} sink failed")]
    private static partial void LogFlushFailed(ILogger logger, Exception exception, int count, string sink);
}

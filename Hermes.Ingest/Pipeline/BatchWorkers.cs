using System.Diagnostics;
using Hermes.Ingest.Aggregation;
using Hermes.Ingest.Configuration;
using Hermes.Ingest.Telemetry;
using Hermes.Ingest.Events;
using Hermes.Ingest.Sinks;
using Microsoft.Extensions.Options;

namespace Hermes.Ingest.Pipeline;

/// <summary>
/// The fixed pool of <c>WORKER_COUNT</c> workers. A worker takes a batch from the <see cref="EventQueue"/> into its
/// own buffer and flushes it (aggregator, then sink) as soon as <c>BATCH_SIZE</c> events are queued, or once the
/// oldest queued event has waited <c>FLUSH_INTERVAL</c>. Events wait in the shared queue rather than in a worker's
/// buffer, so one worker can fill a batch while the others write theirs. No task per request.
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
    IOptions<IngestOptions> options,
    TimeProvider time,
    ILogger<BatchWorkers> logger) : BackgroundService
{
    // Read on every wait for a batch: the bound instance in a field.
    private readonly IngestOptions options = options.Value;

    private long _stopRequestedTimestamp;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogStarting(logger, options.WorkerCount, options.BatchSize, options.FlushInterval, sink.Name);
        stoppingToken.Register(() =>
        {
            _stopRequestedTimestamp = time.GetTimestamp();
            LogDraining(logger, queue.Length);
        });

        var workers = new Task<long>[options.WorkerCount];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = Task.Run(() => RunWorkerAsync(stoppingToken), CancellationToken.None);
        }

        var drained = (await Task.WhenAll(workers)).Sum();
        await sink.FlushAsync(CancellationToken.None);
        LogDrained(logger, drained, time.GetElapsedTime(_stopRequestedTimestamp).TotalMilliseconds, metrics.Accepted, metrics.Flushed);
    }

    /// <returns>How many events this worker flushed after shutdown began.</returns>
    private async Task<long> RunWorkerAsync(CancellationToken stoppingToken)
    {
        var buffer = new EventRecord[options.BatchSize];
        var drainedAfterStop = 0L;

        while (true)
        {
            var stopping = stoppingToken.IsCancellationRequested;
            var queued = queue.Queued;
            if (queued >= buffer.Length || (queued > 0 && (stopping || IsOldestDue())))
            {
                var count = queue.Dequeue(buffer);
                if (count > 0)
                {
                    if (stopping)
                    {
                        drainedAfterStop += count;
                    }

                    await FlushAsync(buffer, count);
                    continue;
                }
            }

            if (stopping)
            {
                // Intake is closed and in-flight requests have finished, so an empty queue stays empty.
                if (queue.Queued <= 0)
                {
                    return drainedAfterStop;
                }

                continue;
            }

            try
            {
                await queue.WaitForWorkAsync(queued > 0 ? UntilOldestIsDue() : Timeout.InfiniteTimeSpan, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                // Shutdown: go round again to drain.
            }
        }
    }

    private async ValueTask FlushAsync(EventRecord[] buffer, int count)
    {
        using var activity = StartFlushActivity(buffer.AsSpan(0, count));
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
            metrics.OnStoredNonDurable(SettleAcks(batch.Span, failure: null));
        }
        catch (Exception ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            LogFlushFailed(logger, ex, count, sink.Name);
            SettleAcks(batch.Span, ex);
        }
        finally
        {
            metrics.OnFlushed(count, time.GetElapsedTime(started), succeeded);

            // Let the strings go now rather than when this slot is next overwritten.
            Array.Clear(buffer, 0, count);
        }
    }

    /// <summary>Answers the <c>?ack=durable</c> requests whose events were in this batch; returns how many were not durable.</summary>
    private static int SettleAcks(ReadOnlySpan<EventRecord> batch, Exception? failure)
    {
        EventOrigin? current = null;
        var run = 0;
        var notDurable = 0;
        foreach (ref readonly var e in batch)
        {
            if (e.Origin is not { IsDurable: true })
            {
                notDurable++;
                continue;
            }

            if (e.Origin != current)
            {
                Settle(current, run, failure);
                current = e.Origin;
                run = 0;
            }

            run++;
        }

        Settle(current, run, failure);
        return notDurable;

        static void Settle(EventOrigin? origin, int count, Exception? failure)
        {
            if (origin is null)
            {
                return;
            }

            if (failure is null)
            {
                origin.Written(count);
            }
            else
            {
                origin.Failed(failure);
            }
        }
    }

    /// <summary>
    /// The flush span joins the trace of the first request in the batch (so POST → hermes.flush → COPY reads as one
    /// trace) and links the others, up to 32. Only worked out when someone listens.
    /// </summary>
    private static Activity? StartFlushActivity(ReadOnlySpan<EventRecord> batch)
    {
        if (!IngestTracing.Source.HasListeners())
        {
            return null;
        }

        ActivityContext parent = default;
        List<ActivityLink>? links = null;
        EventOrigin? previous = null;
        foreach (ref readonly var e in batch)
        {
            if (e.Origin is not { } origin || origin == previous || origin.Trace == default)
            {
                continue;
            }

            previous = origin;
            if (parent == default)
            {
                parent = origin.Trace;
            }
            else if ((links ??= []).Count < 32 && origin.Trace != parent)
            {
                links.Add(new ActivityLink(origin.Trace));
            }
        }

        return IngestTracing.Source.StartActivity("hermes.flush", ActivityKind.Internal, parent, links: links);
    }

    /// <summary>A partial batch is due once the head of the queue has waited FLUSH_INTERVAL.</summary>
    private bool IsOldestDue() => queue.IsExpedited || UntilOldestIsDue() == TimeSpan.Zero;

    /// <summary>How long until the head has waited FLUSH_INTERVAL, measured on the monotonic clock.</summary>
    private TimeSpan UntilOldestIsDue()
    {
        if (queue.HeadAge is not { } age)
        {
            return TimeSpan.Zero;
        }

        var remaining = options.FlushInterval - age;
        return remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;
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

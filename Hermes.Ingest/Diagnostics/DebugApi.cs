using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Text.Json;
using Hermes.Ingest.Apis;
using Hermes.Ingest.Security;
using Microsoft.Diagnostics.NETCore.Client;

namespace Hermes.Ingest.Diagnostics;

/// <summary>
/// The .NET counterparts of Go's <c>/debug/pprof</c>: a CPU trace, a heap dump and live runtime counters.
/// Mapped only when <c>DEBUG_ENDPOINTS=true</c>; otherwise every <c>/debug/*</c> path is a 404. They expose the
/// process's memory and cost CPU: keep them off the open internet.
/// </summary>
public static class DebugApi
{
    // dotnet-trace's cpu-sampling profile: the sample profiler plus the runtime's default keywords
    // (JIT, loader, GC, exceptions, …) so stacks resolve to method names.
    private const long RuntimeDefaultKeywords = 0x14C14FCCBD;

    public static IEndpointRouteBuilder MapDebugApi(this IEndpointRouteBuilder app)
    {
        CountExceptions();
        var debug = app.MapGroup("/debug").RequireApiKey(KeyScope.Admin).WithTags("Diagnostics").ExcludeFromDescription();

        debug.MapGet("/trace", TraceAsync)
            .WithSummary("CPU trace for N seconds (?seconds=5, at most 60) as a .nettrace for dotnet-trace, PerfView or speedscope");
        debug.MapGet("/dump", DumpAsync)
            .WithSummary("A process dump with the GC heap, for dotnet-dump analyze");
        debug.MapGet("/counters", CountersAsync)
            .WithSummary("Runtime counters sampled over ?seconds=1: GC, allocation rate, thread pool, lock contention");

        return app;
    }

    private static async Task TraceAsync(HttpContext context, int seconds = 5)
    {
        seconds = Math.Clamp(seconds, 1, 60);
        var providers = new[]
        {
            new EventPipeProvider("Microsoft-DotNETCore-SampleProfiler", EventLevel.Informational),
            new EventPipeProvider("Microsoft-Windows-DotNETRuntime", EventLevel.Informational, RuntimeDefaultKeywords),
        };

        var client = new DiagnosticsClient(Environment.ProcessId);
        using var session = await client.StartEventPipeSessionAsync(providers, requestRundown: true, circularBufferMB: 256, context.RequestAborted);
        context.Response.ContentType = "application/octet-stream";
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"hermes-{Environment.ProcessId}-{DateTime.UtcNow:yyyyMMddHHmmss}.nettrace\"";

        var copy = session.EventStream.CopyToAsync(context.Response.Body, context.RequestAborted);
        await Task.Delay(TimeSpan.FromSeconds(seconds), context.RequestAborted);
        await session.StopAsync(context.RequestAborted);
        await copy;
    }

    private static async Task DumpAsync(HttpContext context)
    {
        var path = Path.Combine(Path.GetTempPath(), $"hermes-{Environment.ProcessId}-{Guid.NewGuid():N}.dmp");
        try
        {
            var client = new DiagnosticsClient(Environment.ProcessId);
            await client.WriteDumpAsync(DumpType.WithHeap, path, logDumpGeneration: false, context.RequestAborted);
            context.Response.ContentType = "application/octet-stream";
            context.Response.Headers.ContentDisposition = $"attachment; filename=\"{Path.GetFileName(path)}\"";
            await context.Response.SendFileAsync(path, context.RequestAborted);
        }
        catch (ServerErrorException ex)
        {
            await Problems.DumpFailed(ex.Message).WriteAsync(context);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static async Task CountersAsync(HttpContext context, double seconds = 1)
    {
        if (!double.IsFinite(seconds))
        {
            await Problems.InvalidQuery("seconds", "range", $"'seconds' must be a number from 0.1 to 10, not {seconds}.").WriteAsync(context);
            return;
        }

        seconds = Math.Clamp(seconds, 0.1, 10);
        var before = Sample();
        await Task.Delay(TimeSpan.FromSeconds(seconds), context.RequestAborted);
        var after = Sample();
        var gc = GC.GetGCMemoryInfo();
        var interval = after.Time - before.Time;

        context.Response.ContentType = "application/json";
        using (var json = new Utf8JsonWriter(context.Response.BodyWriter, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("intervalSeconds", Math.Round(interval.TotalSeconds, 3));
            json.WriteNumber("cpuPercent", Math.Round(100 * (after.Cpu - before.Cpu).TotalSeconds / interval.TotalSeconds / Environment.ProcessorCount, 1));
            json.WriteNumber("workingSetBytes", Environment.WorkingSet);
            json.WriteNumber("gcHeapBytes", GC.GetTotalMemory(forceFullCollection: false));
            json.WriteNumber("gcCommittedBytes", gc.TotalCommittedBytes);
            json.WriteNumber("allocatedBytesPerSecond", Rate(after.Allocated - before.Allocated, interval));
            json.WriteNumber("gen0CollectionsPerSecond", Rate(after.Gen0 - before.Gen0, interval));
            json.WriteNumber("gen1CollectionsPerSecond", Rate(after.Gen1 - before.Gen1, interval));
            json.WriteNumber("gen2CollectionsPerSecond", Rate(after.Gen2 - before.Gen2, interval));
            json.WriteNumber("gcPauseTimePercent", gc.PauseTimePercentage);
            json.WriteNumber("threadPoolThreads", ThreadPool.ThreadCount);
            json.WriteNumber("threadPoolQueueLength", ThreadPool.PendingWorkItemCount);
            json.WriteNumber("threadPoolCompletedPerSecond", Rate(after.Completed - before.Completed, interval));
            json.WriteNumber("lockContentionsPerSecond", Rate(after.Contentions - before.Contentions, interval));
            json.WriteNumber("exceptionsPerSecond", Rate(after.Exceptions - before.Exceptions, interval));
            json.WriteString("gcMode", System.Runtime.GCSettings.IsServerGC ? "server" : "workstation");
            json.WriteString("runtime", System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription);
            json.WriteNumber("processors", Environment.ProcessorCount);
            json.WriteEndObject();
        }

        await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
    }

    private static double Rate(long delta, TimeSpan interval) =>
        Math.Round(delta / interval.TotalSeconds, 1, MidpointRounding.AwayFromZero);

    private static CounterSample Sample()
    {
        using var process = Process.GetCurrentProcess();
        return new(
            Stopwatch.GetElapsedTime(0),
            process.TotalProcessorTime,
            GC.GetTotalAllocatedBytes(),
            GC.CollectionCount(0),
            GC.CollectionCount(1),
            GC.CollectionCount(2),
            ThreadPool.CompletedWorkItemCount,
            Monitor.LockContentionCount,
            ExceptionCount());
    }

    private static long _exceptions;
    private static int _countingExceptions;

    private static long ExceptionCount() => Interlocked.Read(ref _exceptions);

    /// <summary>Counts first-chance exceptions for the exceptions/s figure; hooked once, when the API is mapped.</summary>
    private static void CountExceptions()
    {
        if (Interlocked.Exchange(ref _countingExceptions, 1) == 0)
        {
            AppDomain.CurrentDomain.FirstChanceException += static (_, _) => Interlocked.Increment(ref _exceptions);
        }
    }

    private readonly record struct CounterSample(
        TimeSpan Time, TimeSpan Cpu, long Allocated, long Gen0, long Gen1, long Gen2, long Completed, long Contentions, long Exceptions);
}

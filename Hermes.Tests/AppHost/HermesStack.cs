extern alias AppHost;

using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Hermes.Tests.AppHost;

/// <summary>
/// The real Hermes.AppHost, started with local-binary PostgreSQL in a fresh data directory, and every process it
/// started (found through the resources' PIDs) remembered so <see cref="StopAsync"/> can prove none is left.
/// </summary>
public sealed class HermesStack : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    public static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(30);

    private readonly HashSet<int> _pids = [];
    private readonly List<string> _timeline = [];
    private long _startedAt = TimeProvider.System.GetTimestamp();
    private readonly CancellationTokenSource _watching = new();
    private Task _watch = Task.CompletedTask;
    private bool _stopped;

    private HermesStack(DistributedApplication app, string dataRoot)
    {
        App = app;
        DataRoot = dataRoot;
    }

    public DistributedApplication App { get; }

    public string DataRoot { get; }

    /// <summary>Each resource's state and health changes, with milliseconds since start: where cold start goes.</summary>
    public IReadOnlyList<string> Timeline
    {
        get
        {
            lock (_timeline)
            {
                return [.. _timeline];
            }
        }
    }

    /// <summary>From <c>StartAsync</c> until every ingest replica reported healthy.</summary>
    public TimeSpan TimeToHealthy { get; private set; }

    /// <param name="sampleProducer">Run Hermes.SampleProducer too (on by default for `dotnet run`; off here unless a test wants it, so the database holds only what the test posts).</param>
    public static async Task<HermesStack> StartAsync(int ingestReplicas, CancellationToken cancellationToken, bool sampleProducer = false)
    {
        var dataRoot = Path.Combine(Path.GetTempPath(), "hermes-apphost-test-" + Guid.NewGuid().ToString("N")[..12]);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<AppHost::Program>(
            [
                "--Hermes:Postgres:Source=local",
                $"--Hermes:Postgres:DataDirectory={dataRoot}",
                $"--Hermes:SpillDirectory={dataRoot}-spill",
                $"--Hermes:IngestReplicas={ingestReplicas.ToString(CultureInfo.InvariantCulture)}",
                $"--Hermes:SampleProducer:Enabled={sampleProducer}",
            ],
            (options, _) => options.DisableDashboard = true,
            cancellationToken).WaitAsync(StepTimeout, cancellationToken);

        foreach (var project in builder.Resources.OfType<ProjectResource>())
        {
            // With no collector listening, each project's exporter waits ~10 s at shutdown trying to flush.
            builder.CreateResourceBuilder(project).WithEnvironment("OTEL_EXPORTER_OTLP_ENDPOINT", "");
        }

        var app = await builder.BuildAsync(cancellationToken).WaitAsync(StepTimeout, cancellationToken);
        var stack = new HermesStack(app, dataRoot);
        stack._watch = stack.WatchPidsAsync(stack._watching.Token);

        var started = stack._startedAt = TimeProvider.System.GetTimestamp();
        await app.StartAsync(cancellationToken).WaitAsync(StartTimeout, cancellationToken);
        await stack.WaitForHealthyReplicasAsync("ingest", ingestReplicas, cancellationToken).WaitAsync(StartTimeout, cancellationToken);
        stack.TimeToHealthy = TimeProvider.System.GetElapsedTime(started);
        await app.ResourceNotifications.WaitForResourceHealthyAsync("dashboard", cancellationToken).WaitAsync(StartTimeout, cancellationToken);
        return stack;
    }

    /// <summary>Every replica of <paramref name="resource"/> reports healthy (with replicas, each has its own id).</summary>
    public async Task<IReadOnlyList<ResourceEvent>> WaitForHealthyReplicasAsync(string resource, int replicas, CancellationToken cancellationToken)
    {
        var healthy = new Dictionary<string, ResourceEvent>();
        await foreach (var e in App.ResourceNotifications.WatchAsync(cancellationToken))
        {
            if (e.Resource.Name != resource)
            {
                continue;
            }

            if (e.Snapshot.HealthStatus == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy)
            {
                healthy[e.ResourceId] = e;
            }
            else
            {
                healthy.Remove(e.ResourceId);
            }

            if (healthy.Count >= replicas)
            {
                return [.. healthy.Values];
            }
        }

        throw new OperationCanceledException();
    }

    public async Task<string> ConnectionStringAsync(CancellationToken cancellationToken) =>
        await App.GetConnectionStringAsync("hermesdb", cancellationToken).AsTask().WaitAsync(StepTimeout, cancellationToken)
        ?? throw new InvalidOperationException("hermesdb has no connection string");

    /// <summary>Stops the app and waits (at most 30 s) for every process it started to exit; returns the ones still running.</summary>
    public async Task<IReadOnlyList<string>> StopAsync()
    {
        _stopped = true;
        CollectDescendants();
        await App.StopAsync().WaitAsync(StepTimeout);
        await App.DisposeAsync().AsTask().WaitAsync(StepTimeout);
        await _watching.CancelAsync();
        await _watch.WaitAsync(StepTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        List<string> alive;
        while ((alive = StillRunning()).Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        return alive;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopped)
        {
            await StopAsync();
        }

        foreach (var line in StillRunning().Where(l => l.Contains(DataRoot, StringComparison.Ordinal)))
        {
            // A failed test must not leave a postgres holding its data directory; only that one is ever killed here.
            if (int.TryParse(line.Split(' ')[0], CultureInfo.InvariantCulture, out var pid) && pid > 1)
            {
                try { System.Diagnostics.Process.GetProcessById(pid).Kill(); } catch (ArgumentException) { }
            }
        }

        foreach (var directory in new[] { DataRoot, DataRoot + "-spill" })
        {
            try { Directory.Delete(directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        _watching.Dispose();
    }

    /// <summary>
    /// Processes this app started that are alive, as "pid command line": the resources' own PIDs and their
    /// descendants when their command line names a Hermes service or postgres, and anything naming the data directory.
    /// </summary>
    public List<string> StillRunning()
    {
        var alive = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), CultureInfo.InvariantCulture, out var pid) || pid <= 1 || pid == Environment.ProcessId)
            {
                continue;
            }

            var commandLine = ReadCommandLine(pid);
            if (commandLine is null || IsZombie(pid))
            {
                continue;
            }

            bool ours;
            lock (_pids)
            {
                ours = commandLine.Contains(DataRoot, StringComparison.Ordinal)
                    || (_pids.Contains(pid) && IsStackProcess(commandLine));
            }

            if (ours)
            {
                alive.Add($"{pid} {commandLine}");
            }
        }

        return alive;
    }

    private static bool IsStackProcess(string commandLine) =>
        commandLine.Contains("Hermes.Ingest", StringComparison.Ordinal)
        || commandLine.Contains("Hermes.Dashboard", StringComparison.Ordinal)
        || commandLine.Contains("Hermes.SampleProducer", StringComparison.Ordinal)
        || commandLine.Contains("postgres", StringComparison.Ordinal);

    private async Task WatchPidsAsync(CancellationToken cancellationToken)
    {
        try
        {
            var last = new Dictionary<string, string>();
            await foreach (var e in App.ResourceNotifications.WatchAsync(cancellationToken))
            {
                var state = $"{e.Snapshot.State?.Text} {e.Snapshot.HealthStatus}";
                if (!last.TryGetValue(e.ResourceId, out var previous) || previous != state)
                {
                    last[e.ResourceId] = state;
                    lock (_timeline)
                    {
                        _timeline.Add($"{TimeProvider.System.GetElapsedTime(_startedAt).TotalMilliseconds,7:F0} ms  {e.ResourceId,-28} {state}");
                    }
                }

                foreach (var property in e.Snapshot.Properties)
                {
                    // Only real child PIDs: a snapshot may carry 0 before the process exists, and 0/1 would make
                    // "descendants" mean every process on the machine.
                    if (property.Name == "executable.pid"
                        && int.TryParse(property.Value?.ToString(), CultureInfo.InvariantCulture, out var pid)
                        && pid > 1 && pid != Environment.ProcessId)
                    {
                        lock (_pids)
                        {
                            _pids.Add(pid);
                        }
                    }
                }

                CollectDescendants();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>A project's pid is `dotnet run`; the service itself is its child, so remember children too.</summary>
    private void CollectDescendants()
    {
        var parents = new Dictionary<int, int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), CultureInfo.InvariantCulture, out var pid) && pid > 1
                && ParentOf(pid) is { } parent && parent > 1)
            {
                parents[pid] = parent;
            }
        }

        lock (_pids)
        {
            bool added;
            do
            {
                added = false;
                foreach (var (pid, parent) in parents)
                {
                    if (_pids.Contains(parent) && pid != Environment.ProcessId && _pids.Add(pid))
                    {
                        added = true;
                    }
                }
            }
            while (added);
        }
    }

    private static string? ReadCommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private static string? ReadStat(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/stat"); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after the last ')'.
    private static int? ParentOf(int pid) =>
        ReadStat(pid) is { } stat && stat[(stat.LastIndexOf(')') + 2)..].Split(' ') is [_, var ppid, ..]
            && int.TryParse(ppid, CultureInfo.InvariantCulture, out var parent) ? parent : null;

    private static bool IsZombie(int pid) =>
        ReadStat(pid) is { } stat && stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
}

using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;

namespace Hermes.Tests.Infrastructure;

/// <summary>
/// Hermes.Ingest (or another Hermes service's dll) as its own OS process, started the way an operator starts it
/// (environment variables), for what only a real process shows: exit codes, startup errors on stderr, SIGTERM
/// handling, the working directory.
/// </summary>
public sealed partial class HermesProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private HermesProcess(Process process, int port)
    {
        _process = process;
        Port = port;
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
    }

    public int Port { get; }

    public HttpClient Client { get; }

    public string StandardOutput
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public string StandardError
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <param name="environment">Settings, as an operator sets them.</param>
    /// <param name="dll">The app to run: the build in this test's output folder unless a published one is given.</param>
    /// <param name="workingDirectory">Where it is started from: the app's folder unless given.</param>
    public static HermesProcess Start(Dictionary<string, string> environment, string? dll = null, string? workingDirectory = null)
    {
        // A test may choose the listen address (e.g. 0.0.0.0:port); the client still talks over loopback.
        var port = environment.TryGetValue("HTTP_ADDR", out var address)
            && int.TryParse(address[(address.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture, out var chosen)
                ? chosen
                : Ports.Free();
        dll ??= Path.Combine(AppContext.BaseDirectory, "Hermes.Ingest.dll");
        var info = new ProcessStartInfo("dotnet", dll)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetDirectoryName(dll)!,
        };
        info.Environment["HTTP_ADDR"] = $"127.0.0.1:{port}";
        info.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = "";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["Logging__Console__FormatterName"] = "simple";
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info };
        var hermes = new HermesProcess(process, port);
        process.OutputDataReceived += (_, e) => Append(hermes._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Append(hermes._stderr, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return hermes;
    }

    public async Task WaitUntilAliveAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"Hermes exited with {_process.ExitCode}: {StandardError}{StandardOutput}");
            }

            try
            {
                using var response = await Client.GetAsync("/alive");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"Hermes did not become alive within {timeout}: {StandardOutput}");
    }

    /// <summary>Waits for exit and returns the exit code; kills the process if it overstays.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"Hermes did not exit within {timeout}: {StandardOutput}");
        }

        // The async readers may still be flushing the last lines.
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public const int SIGTERM = 15;

    /// <summary>The process's resident set size (VmRSS), in bytes.</summary>
    public long ResidentBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private static void Append(StringBuilder builder, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (builder)
        {
            builder.AppendLine(line);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}

using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Producers;

/// <summary>
/// Runs <c>Producers/node/send.js</c>: one real npm SDK (installed by <c>npm ci</c> from the committed lockfile, which
/// <c>.ci/run</c> does) sending track calls to a Hermes over loopback with the SDK's default settings.
/// </summary>
public static class NodeProducer
{
    public static string Folder { get; } = Path.Combine(Repository.Root, "Hermes.Tests", "Producers", "node");

    /// <summary>What send.js printed, and how it exited.</summary>
    public sealed record Run(int ExitCode, JsonElement Result, string Output)
    {
        public int Tracks => Result.GetProperty("tracks").GetInt32();

        public int Identifies => Result.GetProperty("identifies").GetInt32();

        public int Pages => Result.GetProperty("pages").GetInt32();

        public int Failed => Result.GetProperty("failed").GetInt32();
    }

    public static async Task<Run> SendAsync(string sdk, Uri hermes, string writeKey, int count, string runId, TimeSpan timeout)
    {
        if (!File.Exists(Path.Combine(Folder, "node_modules", "@segment", "analytics-node", "package.json"))
            || !File.Exists(Path.Combine(Folder, "node_modules", "@rudderstack", "rudder-sdk-node", "package.json")))
        {
            throw new InvalidOperationException($"The SDKs are not installed: run 'npm ci' in {Folder} (.ci/run does).");
        }

        var info = new ProcessStartInfo("node", "send.js")
        {
            WorkingDirectory = Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment["SDK"] = sdk;
        info.Environment["HERMES_URL"] = hermes.GetLeftPart(UriPartial.Authority);
        info.Environment["WRITE_KEY"] = writeKey;
        info.Environment["COUNT"] = count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["RUN_ID"] = runId;

        using var process = Process.Start(info)!;
        var output = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (output)
            {
                output.AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
        var stdout = process.StandardOutput.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"send.js ({sdk}) did not finish within {timeout}: {output}");
        }

        var lines = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var last = lines.LastOrDefault(l => l.StartsWith('{')) ?? throw new InvalidOperationException($"send.js ({sdk}) printed no result (exit {process.ExitCode}): {string.Join('\n', lines)} {output}");
        return new Run(process.ExitCode, JsonDocument.Parse(last).RootElement.Clone(), string.Join('\n', lines) + "\n" + output);
    }
}

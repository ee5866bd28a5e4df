using System.ComponentModel;
using System.Diagnostics;

namespace Hermes.AppHost;

/// <summary>
/// Whether a container runtime is actually running, not merely installed: a docker CLI with no daemon would make
/// the Postgres container sit in RuntimeUnhealthy and everything waiting on it wait forever.
/// </summary>
internal static class ContainerRuntime
{
    private static readonly Lazy<Result> Cached = new(ProbeOnce);

    internal sealed record Result(string Name, bool Running, string Detail);

    public static Result Probe() => Cached.Value;

    private static Result ProbeOnce()
    {
        // The same variables Aspire reads to pick docker or podman.
        var name = Environment.GetEnvironmentVariable("ASPIRE_CONTAINER_RUNTIME")
            ?? Environment.GetEnvironmentVariable("DOTNET_ASPIRE_CONTAINER_RUNTIME")
            ?? "docker";
        try
        {
            using var process = Process.Start(new ProcessStartInfo(name, ["info", "--format", "{{.ServerVersion}}"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;

            // `docker info` answers in ~0.1 s either way; 5 s only bounds a daemon that hangs.
            if (!process.WaitForExit(TimeSpan.FromSeconds(5)))
            {
                process.Kill(entireProcessTree: true);
                return new(name, false, $"'{name} info' did not answer within 5 s");
            }

            return process.ExitCode == 0
                ? new(name, true, $"'{name} info' succeeded")
                : new(name, false, $"'{name} info' exited with {process.ExitCode}: the daemon is not running");
        }
        catch (Win32Exception)
        {
            return new(name, false, $"no '{name}' command on PATH");
        }
    }
}

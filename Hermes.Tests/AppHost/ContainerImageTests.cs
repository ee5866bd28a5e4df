using System.Diagnostics;
using System.Text.Json;

namespace Hermes.Tests.AppHost;

/// <summary>
/// The images `azd deploy` builds through the SDK (dotnet publish -t:PublishContainer), checked through the MSBuild
/// settings they are made from. Building the image itself (and reading its config from a
/// ContainerArchiveOutputPath tarball) needs the base layers from mcr.microsoft.com, which this build machine cannot
/// reach; README.md says how to check the tarball where it can.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed class ContainerImageTests
{
    public static TheoryData<string, string> Services => new()
    {
        { "Hermes.Ingest", "hermes-ingest" },
        { "Hermes.Dashboard", "hermes-dashboard" },
    };

    [Theory]
    [MemberData(nameof(Services))]
    public async Task Service_image_is_named_chiseled_and_runs_as_the_non_root_app_user(string project, string repository)
    {
        var ct = TestContext.Current.CancellationToken;

        // ComputeContainerBaseImage only works out the name from the family and framework; it fetches nothing.
        var properties = await MsBuildPropertiesAsync(project, "ComputeContainerBaseImage",
            ["ContainerRepository", "ContainerFamily", "ContainerUser", "ContainerBaseImage"], ct);

        Assert.Equal(repository, properties["ContainerRepository"]);
        Assert.Equal("app", properties["ContainerUser"]);
        Assert.Equal("noble-chiseled", properties["ContainerFamily"]);
        Assert.Equal("mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled", properties["ContainerBaseImage"]);
    }

    private static async Task<Dictionary<string, string>> MsBuildPropertiesAsync(
        string project, string target, string[] names, CancellationToken ct)
    {
        var csproj = Path.Combine(AppHostProcess.RepositoryRoot, project, project + ".csproj");
        var (exitCode, log) = await DotnetAsync(
            ["msbuild", csproj, $"-t:{target}", "-nologo", .. names.Select(n => $"-getProperty:{n}")], TimeSpan.FromSeconds(60), ct);
        Assert.True(exitCode == 0, log);
        var json = JsonDocument.Parse(log[log.IndexOf('{', StringComparison.Ordinal)..]).RootElement.GetProperty("Properties");
        return json.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
    }

    private static async Task<(int ExitCode, string Output)> DotnetAsync(string[] args, TimeSpan timeout, CancellationToken ct)
    {
        using var process = Process.Start(new ProcessStartInfo("dotnet", args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        try
        {
            await process.WaitForExitAsync(ct).WaitAsync(timeout, ct);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}

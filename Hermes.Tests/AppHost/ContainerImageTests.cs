using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Text.Json;

namespace Hermes.Tests.AppHost;

/// <summary>
/// The images `azd deploy` builds through the SDK (dotnet publish -t:PublishContainer). The image itself needs its
/// base layers from mcr.microsoft.com; where that registry cannot be reached the image test says so and is skipped,
/// and the MSBuild settings the image is made from are still checked.
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

    [Fact]
    public async Task Ingest_image_tarball_has_the_non_root_user_its_entrypoint_and_port_8080()
    {
        var ct = TestContext.Current.CancellationToken;
        if (await RegistryUnreachableAsync("mcr.microsoft.com") is { } reason)
        {
            Assert.Skip($"The base image cannot be pulled: {reason}. The MSBuild settings are checked by the test above.");
        }

        var archive = Path.Combine(Path.GetTempPath(), $"hermes-ingest-{Guid.NewGuid():N}.tar.gz");
        try
        {
            var (exitCode, log) = await DotnetAsync(
                ["publish", Path.Combine(AppHostProcess.RepositoryRoot, "Hermes.Ingest", "Hermes.Ingest.csproj"), "-c", "Release",
                 "-t:PublishContainer", $"-p:ContainerArchiveOutputPath={archive}", "-nologo", "-v:q"],
                TimeSpan.FromMinutes(4), ct);
            Assert.True(exitCode == 0, "PublishContainer failed:\n" + log);

            var config = await ReadImageConfigAsync(archive, ct);
            Assert.Equal("app", config.GetProperty("User").GetString());
            Assert.Contains(config.GetProperty("Entrypoint").EnumerateArray(), e => e.GetString()!.EndsWith("Hermes.Ingest", StringComparison.Ordinal));
            Assert.True(config.GetProperty("ExposedPorts").TryGetProperty("8080/tcp", out _), "port 8080 is not exposed");
        }
        finally
        {
            File.Delete(archive);
        }
    }

    private static async Task<string?> RegistryUnreachableAsync(string host)
    {
        try
        {
            await Dns.GetHostAddressesAsync(host).WaitAsync(TimeSpan.FromSeconds(3));
            return null;
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or TimeoutException)
        {
            return $"{host} does not resolve from this machine ({ex.Message})";
        }
    }

    /// <summary>The image config (User, Entrypoint, ExposedPorts) from a docker-load tarball.</summary>
    private static async Task<JsonElement> ReadImageConfigAsync(string archive, CancellationToken ct)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        await using (var gzip = new GZipStream(File.OpenRead(archive), CompressionMode.Decompress))
        await using (var tar = new TarReader(gzip))
        {
            while (await tar.GetNextEntryAsync(copyData: false, ct) is { } entry)
            {
                if (entry.DataStream is { } data && entry.Name.EndsWith(".json", StringComparison.Ordinal))
                {
                    using var buffer = new MemoryStream();
                    await data.CopyToAsync(buffer, ct);
                    files[entry.Name] = buffer.ToArray();
                }
            }
        }

        var manifest = JsonDocument.Parse(files["manifest.json"]).RootElement[0];
        var config = JsonDocument.Parse(files[manifest.GetProperty("Config").GetString()!]).RootElement;
        return config.GetProperty("config");
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

using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;

namespace Hermes.Tests.AppHost;

/// <summary>
/// The images `azd deploy` builds through the SDK (dotnet publish -t:PublishContainer): the MSBuild settings they are
/// made from, and the image itself, built into a ContainerArchiveOutputPath tarball on a synthetic base image served by
/// a local registry, because this build machine cannot reach mcr.microsoft.com.
/// </summary>
[NeedsAppHost]
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

    [Theory]
    [MemberData(nameof(Services))]
    public async Task Published_image_runs_the_service_as_app_on_port_8080_on_top_of_the_base_image(string project, string repository)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var registry = await SyntheticBaseImageRegistry.StartAsync("dotnet/aspnet", "10.0-noble-chiseled", ct);
        var work = Directory.CreateTempSubdirectory("hermes-image-");
        try
        {
            var archive = Path.Combine(work.FullName, repository + ".tar.gz");
            var csproj = Path.Combine(AppHostProcess.RepositoryRoot, project, project + ".csproj");

            var (exitCode, log) = await DotnetAsync(
                ["publish", csproj, "-c", "Release", "-t:PublishContainer", "-nologo", "--disable-build-servers",
                    "-o", Path.Combine(work.FullName, "publish"),
                    $"-p:ContainerBaseImage={registry.ImageReference}", $"-p:ContainerArchiveOutputPath={archive}"],
                TimeSpan.FromSeconds(90), ct,
                // The SDK's switch for a registry on plain HTTP (semicolon-separated host:port list).
                new() { ["DOTNET_CONTAINER_INSECURE_REGISTRIES"] = registry.Host });
            Assert.True(exitCode == 0, log + "\nRegistry requests:\n" + string.Join('\n', registry.Requests));

            // An OCI base image gives an OCI image layout: index.json names the manifest, which names config and layers.
            var files = await ReadTarAsync(File.OpenRead(archive), ct);
            var entry = Json(files["index.json"]).GetProperty("manifests").EnumerateArray().Single();
            Assert.Equal($"docker.io/library/{repository}:latest",
                entry.GetProperty("annotations").GetProperty("io.containerd.image.name").GetString());
            var manifest = Json(files[BlobPath(entry)]);
            var image = Json(files[BlobPath(manifest.GetProperty("config"))]);
            var config = image.GetProperty("config");

            Assert.Equal("app", config.GetProperty("User").GetString());
            Assert.Equal(["dotnet", $"/app/{project}.dll"], config.GetProperty("Entrypoint").EnumerateArray().Select(a => a.GetString()));
            Assert.True(config.GetProperty("ExposedPorts").TryGetProperty("8080/tcp", out _), config.ToString());

            // The base layer first, then the app: the last layer holds the service's own assembly.
            var diffIds = image.GetProperty("rootfs").GetProperty("diff_ids").EnumerateArray().Select(d => d.GetString()).ToList();
            Assert.Equal(2, diffIds.Count);
            Assert.Equal(registry.BaseLayerDiffId, diffIds[0]);
            var layers = manifest.GetProperty("layers").EnumerateArray().ToList();
            Assert.Equal(registry.BaseLayerDigest, layers[0].GetProperty("digest").GetString());
            var appLayer = await ReadTarAsync(new MemoryStream(files[BlobPath(layers[^1])]), ct);
            Assert.Contains($"app/{project}.dll", appLayer.Keys.Select(k => k.TrimStart('.', '/')));
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static JsonElement Json(byte[] utf8) => JsonDocument.Parse(utf8).RootElement;

    private static string BlobPath(JsonElement descriptor) => "blobs/" + descriptor.GetProperty("digest").GetString()!.Replace(':', '/');

    private static async Task<Dictionary<string, byte[]>> ReadTarAsync(Stream stream, CancellationToken ct)
    {
        var files = new Dictionary<string, byte[]>();
        await using var reader = new TarReader(await Decompressed(stream));
        while (await reader.GetNextEntryAsync(copyData: false, ct) is { } entry)
        {
            using var content = new MemoryStream();
            if (entry.DataStream is not null)
            {
                await entry.DataStream.CopyToAsync(content, ct);
            }

            files[entry.Name] = content.ToArray();
        }

        return files;
    }

    /// <summary>Gzip is recognised by its magic bytes (1f 8b); layers may be stored either way.</summary>
    private static async Task<Stream> Decompressed(Stream stream)
    {
        var buffered = new MemoryStream();
        await using (stream)
        {
            await stream.CopyToAsync(buffered);
        }

        buffered.Position = 0;
        return buffered.Length > 2 && buffered.GetBuffer()[0] == 0x1f && buffered.GetBuffer()[1] == 0x8b
            ? new GZipStream(buffered, CompressionMode.Decompress)
            : buffered;
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

    internal static async Task<(int ExitCode, string Output)> DotnetAsync(
        string[] args, TimeSpan timeout, CancellationToken ct, Dictionary<string, string>? environment = null)
    {
        var startInfo = new ProcessStartInfo("dotnet", args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment ?? [])
        {
            startInfo.Environment[name] = value;
        }

        using var process = Process.Start(startInfo)!;
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

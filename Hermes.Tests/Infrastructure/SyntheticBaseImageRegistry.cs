using System.Collections.Concurrent;
using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Hermes.Tests.Infrastructure;

/// <summary>
/// A read-only container registry (the pull half of the OCI distribution API) on plain HTTP at 127.0.0.1, serving one
/// synthetic linux/amd64 image in place of mcr.microsoft.com/dotnet/aspnet, so `dotnet publish -t:PublishContainer`
/// can build a real image without internet access. The image is shaped like the real one where the SDK reads it: an
/// image index with a linux/amd64 entry, and a config whose Env carries APP_UID and ASPNETCORE_HTTP_PORTS.
/// </summary>
public sealed class SyntheticBaseImageRegistry : IAsyncDisposable
{
    private const string IndexMediaType = "application/vnd.oci.image.index.v1+json";
    private const string ManifestMediaType = "application/vnd.oci.image.manifest.v1+json";
    private const string ConfigMediaType = "application/vnd.oci.image.config.v1+json";
    private const string LayerMediaType = "application/vnd.oci.image.layer.v1.tar+gzip";

    /// <summary>The one file in the base layer; finding it in the built image proves the app sits on this base.</summary>
    public const string MarkerPath = "etc/hermes-synthetic-base";

    private readonly WebApplication _app;
    private readonly Dictionary<string, (string MediaType, byte[] Content)> _blobs = [];
    private readonly (string Digest, byte[] Content) _index;

    private SyntheticBaseImageRegistry(WebApplication app, string repository, string tag)
    {
        _app = app;
        Repository = repository;
        Tag = tag;

        var layer = GzippedTar(MarkerPath, "synthetic base image for Hermes.Tests\n", out var layerDiffId);
        BaseLayerDigest = AddBlob(LayerMediaType, layer);
        BaseLayerDiffId = layerDiffId;

        var config = Json(new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["config"] = new JsonObject
            {
                ["Env"] = new JsonArray(
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "APP_UID=1654",
                    "ASPNETCORE_HTTP_PORTS=8080",
                    "DOTNET_RUNNING_IN_CONTAINER=true"),
                ["User"] = "1654",
                ["WorkingDir"] = "/",
            },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(layerDiffId) },
        });
        var configDigest = AddBlob(ConfigMediaType, config);

        var manifest = Json(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = ManifestMediaType,
            ["config"] = Descriptor(ConfigMediaType, configDigest, config.Length),
            ["layers"] = new JsonArray(Descriptor(LayerMediaType, BaseLayerDigest, layer.Length)),
        });
        var manifestDigest = AddBlob(ManifestMediaType, manifest);

        var amd64 = Descriptor(ManifestMediaType, manifestDigest, manifest.Length);
        amd64["platform"] = new JsonObject { ["architecture"] = "amd64", ["os"] = "linux" };
        var index = Json(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = IndexMediaType,
            ["manifests"] = new JsonArray(amd64),
        });
        _index = (AddBlob(IndexMediaType, index), index);
    }

    /// <summary>host:port, for the image reference and DOTNET_CONTAINER_INSECURE_REGISTRIES.</summary>
    public string Host { get; private set; } = "";

    public string Repository { get; }

    public string Tag { get; }

    public string ImageReference => $"{Host}/{Repository}:{Tag}";

    public string BaseLayerDigest { get; }

    public string BaseLayerDiffId { get; }

    /// <summary>Every request as "METHOD path", for the failure message when the SDK asks for something else.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    public static async Task<SyntheticBaseImageRegistry> StartAsync(string repository, string tag, CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // Port 0: the OS picks a free one, so parallel runs never collide.
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var registry = new SyntheticBaseImageRegistry(app, repository, tag);
        app.Run(registry.ServeAsync);
        await app.StartAsync(ct);
        registry.Host = $"127.0.0.1:{new Uri(app.Urls.Single()).Port}";
        return registry;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task ServeAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "";
        Requests.Enqueue($"{request.Method} {path} (Accept: {request.Headers.Accept})");

        if (path is "/v2" or "/v2/")
        {
            context.Response.Headers["Docker-Distribution-API-Version"] = "registry/2.0";
            await context.Response.WriteAsync("{}", context.RequestAborted);
            return;
        }

        (string MediaType, byte[] Content, string Digest)? found = null;
        var prefix = $"/v2/{Repository}/";
        if (path.StartsWith(prefix, StringComparison.Ordinal))
        {
            var rest = path[prefix.Length..];
            if (rest.StartsWith("manifests/", StringComparison.Ordinal))
            {
                var reference = rest["manifests/".Length..];
                if (reference == Tag || reference == _index.Digest)
                {
                    found = (IndexMediaType, _index.Content, _index.Digest);
                }
                else if (_blobs.TryGetValue(reference, out var blob) && blob.MediaType == ManifestMediaType)
                {
                    found = (blob.MediaType, blob.Content, reference);
                }
            }
            else if (rest.StartsWith("blobs/", StringComparison.Ordinal)
                && _blobs.TryGetValue(rest["blobs/".Length..], out var blob))
            {
                found = (blob.MediaType, blob.Content, rest["blobs/".Length..]);
            }
        }

        if (found is not { } hit || (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method)))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        context.Response.ContentType = hit.MediaType;
        context.Response.ContentLength = hit.Content.Length;
        context.Response.Headers["Docker-Content-Digest"] = hit.Digest;
        if (HttpMethods.IsGet(request.Method))
        {
            await context.Response.Body.WriteAsync(hit.Content, context.RequestAborted);
        }
    }

    private string AddBlob(string mediaType, byte[] content)
    {
        var digest = Sha256Digest(content);
        _blobs[digest] = (mediaType, content);
        return digest;
    }

    public static string Sha256Digest(byte[] content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    private static JsonObject Descriptor(string mediaType, string digest, long size) =>
        new() { ["mediaType"] = mediaType, ["digest"] = digest, ["size"] = size };

    private static byte[] Json(JsonNode node) => Encoding.UTF8.GetBytes(node.ToJsonString());

    private static byte[] GzippedTar(string path, string text, out string diffId)
    {
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "etc/") { Mode = (UnixFileMode)0b111_101_101 });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, path)
            {
                Mode = (UnixFileMode)0b110_100_100,
                DataStream = new MemoryStream(Encoding.UTF8.GetBytes(text)),
            });
        }

        // The config names layers by the digest of the uncompressed tar (diff_id); the manifest by the gzip's.
        diffId = Sha256Digest(tar.ToArray());
        using var gz = new MemoryStream();
        using (var gzip = new GZipStream(gz, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(tar.ToArray());
        }

        return gz.ToArray();
    }
}

using System.Security.Cryptography;
using System.Text;
using Hermes.Ingest.Configuration;
using Microsoft.Extensions.Primitives;
using Microsoft.Extensions.Options;

namespace Hermes.Ingest.Security;

/// <summary>What a key is allowed to do.</summary>
[Flags]
public enum KeyScope
{
    None = 0,
    Produce = 1,
    Read = 2,
    Admin = 4,
}

/// <summary>
/// The configured API keys, kept only as SHA-256 digests beside their non-secret labels. A presented key is hashed
/// and compared against every digest with <see cref="CryptographicOperations.FixedTimeEquals"/>, without stopping
/// at the first match, so timing reveals neither which key matched nor how much of one did.
/// </summary>
public sealed class ApiKeyRing
{
    private readonly Entry[] _entries;

    public ApiKeyRing(IOptions<IngestOptions> settings)
    {
        var options = settings.Value;
        var entries = new List<Entry>();
        Add(entries, options.ApiKeys, KeyScope.Produce, "producer");
        Add(entries, options.ReadApiKeys, KeyScope.Read, "reader");
        Add(entries, options.AdminApiKeys, KeyScope.Admin | KeyScope.Read, "admin");
        _entries = [.. entries];
        ProducersRequireKey = options.ApiKeys.Length > 0;
        ReadersRequireKey = options.ReadApiKeys.Length > 0;
        Labels = [.. _entries.Select(e => e.Label).Distinct()];
    }

    /// <summary>POSTs need a producer key (API_KEYS is set).</summary>
    public bool ProducersRequireKey { get; }

    /// <summary>Reads need a read or admin key (READ_API_KEYS is set).</summary>
    public bool ReadersRequireKey { get; }

    public IReadOnlyList<string> Labels { get; }

    /// <summary>The key from <c>X-Api-Key</c> or <c>Authorization: Bearer</c>, or null.</summary>
    public static string? Presented(HttpRequest request)
    {
        if (request.Headers.TryGetValue("X-Api-Key", out var header) && !StringValues.IsNullOrEmpty(header))
        {
            return header.ToString();
        }

        var authorization = request.Headers.Authorization.ToString();
        return authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization[7..].Trim() : null;
    }

    /// <summary>
    /// The Segment write key: the user name of <c>Authorization: Basic base64(key:)</c>, as the Segment and RudderStack
    /// SDKs send it; else the key <see cref="Presented"/> finds. Null when there is none or it is not valid Basic.
    /// </summary>
    public static string? PresentedWriteKey(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return Presented(request);
        }

        // A key is at most 512 characters (Authenticate refuses longer ones), so 1 KiB of base64 is plenty.
        Span<byte> decoded = stackalloc byte[1024];
        var encoded = authorization.AsSpan(6).Trim();
        if (encoded.Length > 1024 || !Convert.TryFromBase64Chars(encoded, decoded, out var length))
        {
            return null;
        }

        var credentials = Encoding.UTF8.GetString(decoded[..length]);
        var colon = credentials.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? credentials : credentials[..colon];
    }

    /// <summary>The label of the key that grants <paramref name="scope"/>, or null.</summary>
    public string? Authenticate(string? presented, KeyScope scope)
    {
        if (string.IsNullOrEmpty(presented) || presented.Length > 512)
        {
            return null;
        }

        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), digest);
        string? label = null;
        foreach (var entry in _entries)
        {
            var equal = CryptographicOperations.FixedTimeEquals(digest, entry.Digest);
            if (equal && (entry.Scope & scope) != 0)
            {
                label ??= entry.Label;
            }
        }

        return label;
    }

    private static void Add(List<Entry> entries, string[] keys, KeyScope scope, string prefix)
    {
        for (var i = 0; i < keys.Length; i++)
        {
            var colon = keys[i].IndexOf(':', StringComparison.Ordinal);
            var label = colon < 0 ? $"{prefix}-{i + 1}" : keys[i][..colon];
            var secret = colon < 0 ? keys[i] : keys[i][(colon + 1)..];
            entries.Add(new Entry(label, SHA256.HashData(Encoding.UTF8.GetBytes(secret)), scope));
        }
    }

    private sealed record Entry(string Label, byte[] Digest, KeyScope Scope);
}

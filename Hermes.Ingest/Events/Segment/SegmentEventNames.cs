using Hermes.Ingest.Configuration;
using Microsoft.Extensions.Options;

namespace Hermes.Ingest.Events.Segment;

/// <summary>
/// Which Hermes type a Segment <c>track</c>'s <c>event</c> name counts as: an explicit SEGMENT_EVENT_MAP entry, else the
/// name in snake_case (<c>Song Played</c>, <c>songPlayed</c> and <c>song-played</c> are all <c>song_played</c>), which
/// must then be one of EVENT_TYPES like any event's type.
/// </summary>
public sealed class SegmentEventNames
{
    // Event names longer than this are refused before they are converted (a type is at most 64 characters).
    private const int MaxNameLength = 256;

    private readonly EventTypeCatalog _types;
    private readonly Dictionary<string, byte> _overrides = new(StringComparer.Ordinal);

    public SegmentEventNames(IOptions<IngestOptions> options, EventTypeCatalog types)
    {
        _types = types;
        foreach (var (name, type) in options.Value.SegmentEventMap)
        {
            // IngestOptionsRules refused a target outside EVENT_TYPES, so this always finds it.
            if (types.TryFind(type, out var index))
            {
                _overrides[name] = index;
            }
        }
    }

    /// <summary>The type index for <paramref name="name"/>, or false when it maps to no configured type.</summary>
    public bool TryMap(string name, out byte type)
    {
        if (_overrides.TryGetValue(name, out type))
        {
            return true;
        }

        if (name.Length > MaxNameLength)
        {
            type = 0;
            return false;
        }

        Span<char> buffer = stackalloc char[2 * MaxNameLength];
        var snake = SnakeCase(name, buffer);
        for (var i = 0; i < _types.Count; i++)
        {
            if (snake.SequenceEqual(_types.Names[i]))
            {
                type = (byte)i;
                return true;
            }
        }

        type = 0;
        return false;
    }

    /// <summary><c>Song Played</c> → <c>song_played</c>: the default mapping, for messages and documentation.</summary>
    public static string SnakeCase(string name)
    {
        Span<char> buffer = name.Length <= MaxNameLength ? stackalloc char[2 * MaxNameLength] : new char[2 * name.Length];
        return SnakeCase(name, buffer).ToString();
    }

    /// <summary>
    /// Letters and digits lower-cased; every run of anything else (spaces, '-', '.', '/', '_') becomes one '_', and so
    /// does a word boundary inside camelCase or PascalCase (<c>songPlayed</c>, <c>HTTPRequest</c> → <c>http_request</c>).
    /// No leading or trailing '_'. <paramref name="buffer"/> holds at least twice the name's length.
    /// </summary>
    private static ReadOnlySpan<char> SnakeCase(ReadOnlySpan<char> name, Span<char> buffer)
    {
        var length = 0;
        var pendingSeparator = false;
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (!char.IsLetterOrDigit(c))
            {
                pendingSeparator = length > 0;
                continue;
            }

            if (char.IsUpper(c) && length > 0 && i > 0)
            {
                var previous = name[i - 1];
                var next = i + 1 < name.Length ? name[i + 1] : '\0';
                if (char.IsLower(previous) || char.IsDigit(previous) || (char.IsUpper(previous) && char.IsLower(next)))
                {
                    pendingSeparator = true;
                }
            }

            if (pendingSeparator)
            {
                buffer[length++] = '_';
                pendingSeparator = false;
            }

            buffer[length++] = char.ToLowerInvariant(c);
        }

        return buffer[..length];
    }
}

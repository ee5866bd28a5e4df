using System.Text;
using Hermes.Ingest.Configuration;
using Microsoft.Extensions.Options;

namespace Hermes.Ingest.Events;

/// <summary>The configured event types; events carry a one-byte index into this list.</summary>
public sealed class EventTypeCatalog
{
    private readonly byte[][] _utf8;

    public EventTypeCatalog(IOptions<IngestOptions> options)
    {
        Names = options.Value.EventTypes;
        _utf8 = [.. Names.Select(Encoding.UTF8.GetBytes)];
        AllowedList = string.Join(", ", Names);
    }

    public IReadOnlyList<string> Names { get; }

    /// <summary>"trip_started, song_played, …" for error messages.</summary>
    public string AllowedList { get; }

    public int Count => _utf8.Length;

    public string this[byte index] => Names[index];

    public ReadOnlySpan<byte> Utf8(int index) => _utf8[index];

    public bool TryFind(string name, out byte index)
    {
        for (var i = 0; i < Names.Count; i++)
        {
            if (string.Equals(Names[i], name, StringComparison.Ordinal))
            {
                index = (byte)i;
                return true;
            }
        }

        index = 0;
        return false;
    }
}

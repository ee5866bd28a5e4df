using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Hermes.Client.Buffering;

/// <summary>
/// RFC 9562 UUIDv7: 48 bits of Unix milliseconds, then 74 random bits from the operating system's CSPRNG, as
/// <see cref="Guid.CreateVersion7(DateTimeOffset)"/> makes them. That one asks the OS for 16 bytes every time: a
/// getrandom call measured at 417 ns, two thirds of a whole <c>Track</c>. Here each thread takes 4 KiB at once and
/// spends 10 bytes per id, one call per 409 ids, with the same randomness.
/// </summary>
internal static class UuidV7
{
    private const int RandomBytes = 10;
    private const int BufferBytes = 4096;

    [ThreadStatic]
    private static byte[]? t_random;

    [ThreadStatic]
    private static int t_used;

    public static Guid Create(DateTimeOffset timestamp)
    {
        var milliseconds = timestamp.ToUnixTimeMilliseconds();
        ArgumentOutOfRangeException.ThrowIfNegative(milliseconds, nameof(timestamp));

        var random = t_random;
        var used = t_used;
        if (random is null || used > BufferBytes - RandomBytes)
        {
            random = t_random ??= new byte[BufferBytes];
            RandomNumberGenerator.Fill(random);
            used = 0;
        }

        t_used = used + RandomBytes;
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteInt64BigEndian(bytes, milliseconds << 16);   // the low 48 bits, in the first 6 bytes
        random.AsSpan(used, RandomBytes).CopyTo(bytes[6..]);
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x70);                        // version 7
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);                        // variant 10 (RFC 9562)
        return new Guid(bytes, bigEndian: true);
    }
}

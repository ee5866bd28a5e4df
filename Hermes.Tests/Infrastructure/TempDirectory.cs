namespace Hermes.Tests.Infrastructure;

/// <summary>
/// A directory of a test's own under the system temp directory (<c>hermes-&lt;purpose&gt;-&lt;random&gt;</c>), created
/// at once and deleted with everything in it on dispose, whatever the test left there.
/// </summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string purpose = "test")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"hermes-{purpose}-{Guid.NewGuid():N}"[..(8 + purpose.Length + 12)]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    /// <summary>A path inside the directory (not created).</summary>
    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    public override string ToString() => Path;

    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}

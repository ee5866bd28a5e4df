namespace Hermes.Tests.Infrastructure;

/// <summary>The checkout the tests were built from: the directory above the test binaries that holds Hermes.sln.</summary>
public static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Hermes.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Hermes.sln not found above " + AppContext.BaseDirectory);
    }
}

using Hermes.Tests.Infrastructure;
using Hermes.Tools;

namespace Hermes.Tests.Architecture;

/// <summary>
/// The arrows between folders point one way, and say so with a <c>using</c>: what <c>dotnet run tools/folder-graph.cs</c>
/// prints, asserted. Reads the sources of this checkout (the test runs from its build output inside it).
/// </summary>
public sealed class FolderGraphTests
{
    public static TheoryData<string> Projects => [.. FolderGraph.Projects];

    [Theory]
    [MemberData(nameof(Projects))]
    public void Folders_depend_on_each_other_in_one_direction_only(string project)
    {
        var graph = FolderGraph.Read(Path.Combine(Repository.Root, project));
        TestContext.Current.TestOutputHelper?.WriteLine(graph.Describe());

        Assert.True(graph.Edges.Count > 3, $"{project}: no folders found");
        Assert.True(graph.Cycles.Count == 0, graph.Describe());
        Assert.True(graph.Qualified.Count == 0, graph.Describe());
    }

    [Fact]
    public void A_cycle_and_a_qualified_name_are_found()
    {
        using var project = new TempDirectory("graph");
        Directory.CreateDirectory(project["A"]);
        Directory.CreateDirectory(project["B"]);
        File.WriteAllText(project["A/Alpha.cs"], "namespace P.A;\nusing P.B;\npublic sealed class Alpha { Beta? b; }\n");
        File.WriteAllText(project["B/Beta.cs"], "namespace P.B;\n// Alpha in a comment is no use\npublic sealed class Beta { A.Alpha? a; string s = \"Alpha\"; }\n");

        var graph = FolderGraph.Read(project.Path);

        Assert.Equal(["A", "B"], Assert.Single(graph.Cycles));
        Assert.Equal(["Alpha"], graph.Edges["B"]["A"]);
        Assert.Equal(["B/Beta.cs: A.Alpha"], graph.Qualified);
    }
}

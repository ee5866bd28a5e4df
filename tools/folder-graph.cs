// Which folder of each Hermes project uses which: the picture of the arrows between folders, and any cycles.
//
//   dotnet run tools/folder-graph.cs                        # this checkout's Hermes.Ingest and Hermes.Dashboard
//   dotnet run tools/folder-graph.cs -- --root ../other     # another checkout (e.g. `git worktree add ../before <rev>`)
//   dotnet run tools/folder-graph.cs -- --check             # also exit 1 when folders form a cycle
//
// A folder uses another when one of its files names a type declared there (by simple name, or partially qualified
// such as `Pipeline.EventOrigin`) or imports its namespace (`using Hermes.Ingest.Pipeline;`). Comments and string
// literals are ignored. Hermes.Tests compiles this file too (FolderGraphTests asserts there are no cycles), with
// FOLDER_GRAPH_LIBRARY defined so that its Main stays out of the test host.
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Hermes.Tools;

#if !FOLDER_GRAPH_LIBRARY
internal static class FolderGraphProgram
{
    private static int Main(string[] args)
    {
        var root = Directory.GetCurrentDirectory();
        var check = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--root" when i + 1 < args.Length:
                    root = Path.GetFullPath(args[++i]);
                    break;
                case "--check":
                    check = true;
                    break;
                default:
                    Console.Error.WriteLine("usage: dotnet run tools/folder-graph.cs [-- [--root <checkout>] [--check]]");
                    return 2;
            }
        }

        var cycles = 0;
        foreach (var project in FolderGraph.Projects)
        {
            var graph = FolderGraph.Read(Path.Combine(root, project));
            Console.WriteLine(graph.Describe());
            cycles += graph.Cycles.Count;
        }

        return check && cycles > 0 ? 1 : 0;
    }
}
#endif

/// <summary>The folders of one project and the arrows between them.</summary>
internal sealed partial class FolderGraph
{
    /// <summary>The projects whose folders are pictured.</summary>
    public static readonly string[] Projects = ["Hermes.Ingest", "Hermes.Dashboard"];

    private const string RootFolder = "(root)";

    private FolderGraph(string project, SortedDictionary<string, SortedDictionary<string, SortedSet<string>>> edges, List<string> qualified)
    {
        Project = project;
        Edges = edges;
        Qualified = qualified;
        Cycles = FindCycles();
    }

    public string Project { get; }

    /// <summary>folder → folder it uses → the names that make it use it (types, or namespaces imported).</summary>
    public SortedDictionary<string, SortedDictionary<string, SortedSet<string>>> Edges { get; }

    /// <summary>Partially or fully qualified names of another folder's types (<c>file: Pipeline.EventOrigin</c>).</summary>
    public List<string> Qualified { get; }

    /// <summary>Groups of folders that reach each other (strongly connected components of more than one folder).</summary>
    public List<List<string>> Cycles { get; }

    public static FolderGraph Read(string projectDirectory)
    {
        var project = Path.GetFileName(Path.TrimEndingDirectorySeparator(projectDirectory));
        var files = Directory.EnumerateFiles(projectDirectory, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".razor", StringComparison.Ordinal))
            .Where(f => !IsBuildOutput(Path.GetRelativePath(projectDirectory, f)))
            .Order(StringComparer.Ordinal)
            .Select(f => new SourceFile(Path.GetRelativePath(projectDirectory, f).Replace('\\', '/'), Strip(File.ReadAllText(f))))
            .ToList();

        // Where each type is declared; a name declared in two folders says nothing about which one a file means.
        var declared = new Dictionary<string, string>(StringComparer.Ordinal);
        var ambiguous = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            foreach (var type in file.DeclaredTypes())
            {
                if (declared.TryGetValue(type, out var other) && other != file.Folder)
                {
                    ambiguous.Add(type);
                }

                declared[type] = file.Folder;
            }
        }

        var folders = files.Select(f => f.Folder).ToHashSet(StringComparer.Ordinal);
        var segments = folders.SelectMany(f => f.Split('/')).Append("Hermes").Append(project.Split('.')[^1]).ToHashSet(StringComparer.Ordinal);
        var edges = new SortedDictionary<string, SortedDictionary<string, SortedSet<string>>>(StringComparer.Ordinal);
        var qualified = new List<string>();
        foreach (var file in files)
        {
            var uses = edges.TryGetValue(file.Folder, out var existing) ? existing : edges[file.Folder] = new(StringComparer.Ordinal);
            foreach (Match import in UsingNamespace().Matches(file.Code))
            {
                var folder = FolderOfNamespace(project, import.Groups[1].Value);
                if (folder is not null && folder != file.Folder && folders.Contains(folder))
                {
                    Add(uses, folder, "using " + import.Groups[1].Value);
                }
            }

            foreach (Match name in Identifier().Matches(file.Code))
            {
                var type = name.Value;
                if (!declared.TryGetValue(type, out var folder) || folder == file.Folder || ambiguous.Contains(type))
                {
                    continue;
                }

                // A property, or an assignment's target, that shares a type's name (Problems, PreviousRun) is no use of it.
                if (IsMemberName(file.Code, name.Index, type.Length))
                {
                    continue;
                }

                // `x.Name` is a member unless x is a namespace segment (Pipeline.EventOrigin, Hermes.Ingest.Events.X).
                var qualifier = Qualifier(file.Code, name.Index);
                if (qualifier is not null && !segments.Contains(qualifier))
                {
                    continue;
                }

                if (qualifier is not null && !IsUsingLine(file.Code, name.Index))
                {
                    qualified.Add($"{file.Path}: {qualifier}.{type}");
                }

                Add(uses, folder, type);
            }
        }

        return new FolderGraph(project, edges, [.. qualified.Distinct(StringComparer.Ordinal)]);
    }

    /// <summary>The picture: one line per folder with the folders it uses, then the cycles or the layers.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        var width = Edges.Keys.Max(k => k.Length) + 1;
        text.AppendLine(CultureInfo.InvariantCulture, $"{Project}: {Edges.Count} folders, {Edges.Sum(e => e.Value.Count)} arrows (A → B: A uses B)");
        foreach (var (folder, uses) in Edges)
        {
            var targets = string.Join(", ", uses.Keys.Select(t => Reaches(t, folder) ? t + " ⇄" : t));
            text.AppendLine(CultureInfo.InvariantCulture, $"  {folder.PadRight(width)}→ {(targets.Length == 0 ? "(nothing)" : targets)}");
        }

        if (Cycles.Count == 0)
        {
            text.AppendLine("  no cycles; layers, each using only those before it:");
            var level = 0;
            foreach (var layer in Layers())
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"    {++level}. {string.Join(", ", layer)}");
            }
        }
        else
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {Cycles.Count} cycle(s) (⇄ marks an arrow back into its own cycle):");
            foreach (var cycle in Cycles)
            {
                text.AppendLine("    " + string.Join(" ⇄ ", cycle));
                foreach (var from in cycle)
                {
                    foreach (var (to, names) in Edges[from].Where(e => cycle.Contains(e.Key)))
                    {
                        text.AppendLine(CultureInfo.InvariantCulture, $"      {from} → {to}: {string.Join(", ", names.Take(6))}{(names.Count > 6 ? ", …" : "")}");
                    }
                }
            }
        }

        if (Qualified.Count > 0)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {Qualified.Count} qualified name(s) instead of a using:");
            foreach (var name in Qualified)
            {
                text.AppendLine("    " + name);
            }
        }

        return text.ToString();
    }

    private static void Add(SortedDictionary<string, SortedSet<string>> uses, string folder, string why)
    {
        if (!uses.TryGetValue(folder, out var names))
        {
            uses[folder] = names = new(StringComparer.Ordinal);
        }

        names.Add(why);
    }

    private bool Reaches(string from, string to)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([from]);
        while (pending.TryPop(out var folder))
        {
            if (folder == to)
            {
                return true;
            }

            if (seen.Add(folder) && Edges.TryGetValue(folder, out var uses))
            {
                foreach (var next in uses.Keys)
                {
                    pending.Push(next);
                }
            }
        }

        return false;
    }

    private List<List<string>> FindCycles()
    {
        var cycles = new List<List<string>>();
        var assigned = new HashSet<string>(StringComparer.Ordinal);
        foreach (var folder in Edges.Keys)
        {
            if (assigned.Contains(folder))
            {
                continue;
            }

            var component = Edges.Keys.Where(other => other == folder || (Reaches(folder, other) && Reaches(other, folder))).ToList();
            assigned.UnionWith(component);
            if (component.Count > 1)
            {
                cycles.Add(component);
            }
        }

        return cycles;
    }

    /// <summary>Folders in dependency order: each layer uses only folders of the layers before it.</summary>
    private List<List<string>> Layers()
    {
        var placed = new HashSet<string>(StringComparer.Ordinal);
        var layers = new List<List<string>>();
        while (placed.Count < Edges.Count)
        {
            var layer = Edges.Where(e => !placed.Contains(e.Key) && e.Value.Keys.All(placed.Contains)).Select(e => e.Key).ToList();
            placed.UnionWith(layer);
            layers.Add(layer);
        }

        return layers;
    }

    private static bool IsBuildOutput(string relative) =>
        relative.StartsWith("bin" + Path.DirectorySeparatorChar, StringComparison.Ordinal)
        || relative.StartsWith("obj" + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary><c>Hermes.Ingest.Sinks.Postgres</c> → <c>Sinks/Postgres</c> (in Hermes.Ingest); null for other projects' namespaces.</summary>
    private static string? FolderOfNamespace(string project, string ns) =>
        ns == project ? RootFolder
        : ns.StartsWith(project + ".", StringComparison.Ordinal) ? ns[(project.Length + 1)..].Replace('.', '/')
        : null;

    /// <summary>The identifier before a <c>.</c> that precedes <paramref name="index"/>, if any.</summary>
    private static string? Qualifier(string code, int index)
    {
        var at = index - 1;
        while (at >= 0 && code[at] == ' ')
        {
            at--;
        }

        if (at < 0 || code[at] != '.')
        {
            return null;
        }

        var end = at;
        while (at > 0 && (char.IsLetterOrDigit(code[at - 1]) || code[at - 1] == '_'))
        {
            at--;
        }

        return code[at..end];
    }

    /// <summary>
    /// The identifier names a member rather than a type: a property being declared (<c>Problems { get; }</c>,
    /// <c>PreviousRun =&gt; null</c>) or a target being assigned (<c>PreviousRun = …</c> in an object initializer).
    /// A type is followed by a name, a dot, a generic argument list or a pattern's <c>=&gt;</c>, never by these.
    /// </summary>
    private static bool IsMemberName(string code, int index, int length)
    {
        var after = code.AsSpan(index + length).TrimStart();
        if (after.StartsWith("==", StringComparison.Ordinal))
        {
            return false;
        }

        if (after.StartsWith("=>", StringComparison.Ordinal))
        {
            // `Type Name => …` declares a property; `… or SomeType => …` is a switch arm matching a type.
            var before = code.AsSpan(0, index).TrimEnd();
            var word = before.Length - 1;
            while (word >= 0 && (char.IsLetterOrDigit(before[word]) || before[word] == '_'))
            {
                word--;
            }

            var previous = before[(word + 1)..];
            return before.Length > 0 && (before[^1] is '>' or '?' or ']' || (previous.Length > 0 && previous is not ("or" or "and" or "not" or "is" or "case" or "when" or "return" or "in")));
        }

        return after.StartsWith("=", StringComparison.Ordinal) || PropertyAccessors().IsMatch(after);
    }

    private static bool IsUsingLine(string code, int index)
    {
        var start = code.LastIndexOf('\n', Math.Max(0, index - 1)) + 1;
        return code.AsSpan(start).TrimStart().StartsWith("using ", StringComparison.Ordinal)
            || code.AsSpan(start).TrimStart().StartsWith("@using ", StringComparison.Ordinal);
    }

    /// <summary>Blanks out comments and string and character literals, keeping line breaks and offsets.</summary>
    private static string Strip(string source)
    {
        var code = new StringBuilder(source.Length);
        var i = 0;
        while (i < source.Length)
        {
            var c = source[i];
            var next = i + 1 < source.Length ? source[i + 1] : '\0';
            int end;
            if (c == '/' && next == '/')
            {
                end = source.IndexOf('\n', i);
            }
            else if (c == '/' && next == '*')
            {
                end = Close(source, "*/", i + 2);
            }
            else if (c == '@' && next == '*')
            {
                end = Close(source, "*@", i + 2);
            }
            else if (c == '<' && source.AsSpan(i).StartsWith("<!--", StringComparison.Ordinal))
            {
                end = Close(source, "-->", i + 4);
            }
            else if (c == '"' && source.AsSpan(i).StartsWith("\"\"\"", StringComparison.Ordinal))
            {
                var quotes = 3;
                while (i + quotes < source.Length && source[i + quotes] == '"')
                {
                    quotes++;
                }

                end = Close(source, new string('"', quotes), i + quotes);
            }
            else if (c == '"' && IsInterpolated(source, i))
            {
                // Keep the holes of $"…{expression}…": they name types too.
                var verbatim = source[i - 1] == '@' || (i > 1 && source[i - 2] == '@');
                code.Append(' ');
                var depth = 0;
                for (i++; i < source.Length && (depth > 0 || (source[i] != '"' && source[i] != '\n')); i++)
                {
                    var inside = source[i];
                    if (depth == 0 && !verbatim && inside == '\\')
                    {
                        code.Append("  ");
                        i++;
                        continue;
                    }

                    if (inside == '{' && depth == 0 && i + 1 < source.Length && source[i + 1] == '{')
                    {
                        code.Append("  ");
                        i++;
                        continue;
                    }

                    depth += inside == '{' ? 1 : inside == '}' && depth > 0 ? -1 : 0;
                    code.Append(depth > 0 && inside is not ('{' or '"') ? inside : ' ');
                }

                if (i < source.Length)
                {
                    code.Append(' ');
                    i++;
                }

                continue;
            }
            else if (c == '"' || c == '\'')
            {
                var verbatim = c == '"' && i > 0 && source[i - 1] == '@';
                end = i + 1;
                while (end < source.Length && source[end] != c && source[end] != '\n')
                {
                    end += !verbatim && source[end] == '\\' ? 2 : 1;
                }

                end = Math.Min(end + 1, source.Length);
            }
            else
            {
                code.Append(c);
                i++;
                continue;
            }

            if (end < 0)
            {
                end = source.Length;
            }

            foreach (var blanked in source.AsSpan(i, end - i))
            {
                code.Append(blanked == '\n' ? '\n' : ' ');
            }

            i = end;
        }

        return code.ToString();
    }

    private static bool IsInterpolated(string source, int quote) =>
        quote > 0 && (source[quote - 1] == '$' || (quote > 1 && source[quote - 1] == '@' && source[quote - 2] == '$'));

    private static int Close(string source, string terminator, int from)
    {
        var at = source.IndexOf(terminator, from, StringComparison.Ordinal);
        return at < 0 ? -1 : at + terminator.Length;
    }

    [GeneratedRegex(@"^\s*@?using\s+(?:static\s+)?(Hermes(?:\.\w+)+)\s*;?\s*$", RegexOptions.Multiline)]
    private static partial Regex UsingNamespace();

    [GeneratedRegex(@"(?<![\w@])[A-Z]\w*")]
    private static partial Regex Identifier();

    [GeneratedRegex(@"^\{\s*(?:get|set|init)\b")]
    private static partial Regex PropertyAccessors();

    [GeneratedRegex(@"^\s*namespace\s+[\w.]+\s*;", RegexOptions.Multiline)]
    private static partial Regex FileScopedNamespace();

    [GeneratedRegex(@"\b(?:class|struct|interface|enum|record)\s+(?:class\s+|struct\s+)?([A-Z]\w*)")]
    private static partial Regex Declaration();

    private sealed record SourceFile(string Path, string Code)
    {
        public string Folder => Path.LastIndexOf('/') is var slash and > 0 ? Path[..slash] : RootFolder;

        /// <summary>Types declared at the top level of the file (nested ones are their container's business).</summary>
        public IEnumerable<string> DeclaredTypes()
        {
            if (Path.EndsWith(".razor", StringComparison.Ordinal))
            {
                // A component is a type named after its file.
                yield return System.IO.Path.GetFileNameWithoutExtension(Path);
                yield break;
            }

            var topLevel = Code.Contains("namespace ", StringComparison.Ordinal) && !FileScoped() ? 1 : 0;
            foreach (Match match in Declaration().Matches(Code))
            {
                if (Depth(match.Index) == topLevel)
                {
                    yield return match.Groups[1].Value;
                }
            }
        }

        private bool FileScoped() => FileScopedNamespace().IsMatch(Code);

        private int Depth(int index)
        {
            var depth = 0;
            foreach (var c in Code.AsSpan(0, index))
            {
                depth += c == '{' ? 1 : c == '}' ? -1 : 0;
            }

            return depth;
        }
    }
}

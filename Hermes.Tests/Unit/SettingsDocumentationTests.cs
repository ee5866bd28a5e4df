extern alias Dashboard;

using System.Text.RegularExpressions;
using Dashboard::Hermes.Dashboard.Configuration;
using Hermes.Ingest.Configuration;
using Hermes.Ingest.Sinks.Postgres;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Unit;

/// <summary>README's settings tables and the seed-name readers list the same settings.</summary>
public sealed partial class SettingsDocumentationTests
{
    /// <summary>Every seed name a reader knows.</summary>
    private static readonly SortedSet<string> Known =
        new(IngestOptionsLoader.SeedNames.Concat(PostgresSinkOptionsLoader.SeedNames).Concat(DashboardSettingsLoader.SeedNames), StringComparer.Ordinal);

    [Fact]
    public void Every_setting_the_readers_know_has_a_row_in_a_README_settings_table()
    {
        var documented = SettingRows(ReadMe());

        Assert.Empty(Known.Except(documented));
    }

    [Fact]
    public void Every_row_of_the_README_settings_tables_is_a_setting_a_reader_knows()
    {
        var documented = SettingRows(ReadMe());

        Assert.Empty(documented.Except(Known));
    }

    [Fact]
    public void A_settings_table_is_found_by_its_header_and_a_row_names_one_setting()
    {
        const string Markdown = """
            | Variable | Default | Meaning |
            |---|---|---|
            | `QUEUE_SIZE` | `100000` | queue |

            | setting | protects against |
            |---|---|
            | `API_KEYS` | strangers |

            | setting | default | meaning |
            |---|---|---|
            | `SPILL_DIR` | `/tmp` | spill |
            """;

        Assert.Equal(["QUEUE_SIZE", "SPILL_DIR"], SettingRows(Markdown));
    }

    private static string ReadMe() => File.ReadAllText(Path.Combine(Repository.Root, "README.md"));

    /// <summary>
    /// The first cell of every row of the tables whose header is "Variable | Default | …" or "setting | default | …"
    /// (the Security section's "setting | protects against" is about settings, not a list of them).
    /// </summary>
    private static SortedSet<string> SettingRows(string markdown)
    {
        var rows = new SortedSet<string>(StringComparer.Ordinal);
        var inTable = false;
        foreach (var line in markdown.Split('\n').Select(l => l.Trim()))
        {
            if (!line.StartsWith('|'))
            {
                inTable = false;
                continue;
            }

            var cells = line.Trim('|').Split('|').Select(c => c.Trim()).ToArray();
            if (!inTable && cells.Length >= 3 && cells[0] is "Variable" or "setting" && cells[1].Equals("default", StringComparison.OrdinalIgnoreCase))
            {
                inTable = true;
            }
            else if (inTable && !cells[0].StartsWith("---", StringComparison.Ordinal))
            {
                var names = SettingName().Matches(cells[0]);
                Assert.True(names.Count == 1, $"A settings row names exactly one setting in its first cell: {line}");
                rows.Add(names[0].Groups[1].Value);
            }
        }

        return rows;
    }

    [GeneratedRegex("`([A-Z][A-Z0-9_]*)`")]
    private static partial Regex SettingName();
}

using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Options;

namespace Hermes.Ingest.Configuration;

/// <summary>
/// One setting: the seed-style environment name, the .NET key under an options section, and how a value is parsed
/// into the options (returning what was expected when it cannot be, or null). Ranges and rules are not here: they
/// are attributes on the property. <paramref name="Secret"/> values are never echoed in errors.
/// </summary>
public sealed record Setting<TOptions>(string EnvName, string Key, Func<TOptions, string, string?> Apply, bool Secret = false);

/// <summary>
/// The compatibility layer between the seed's settings and the .NET options pattern, the same for every options
/// class: the environment name wins over the .NET key, array sections may stand for a comma-separated value, Go
/// durations are accepted, and every bad value, whether it does not parse or breaks a validator's rule, is
/// collected as "NAME=value is invalid: rule.", NAME being the name the value was given under. Usage:
/// <c>Read</c>, derive the defaults that depend on other settings, then <c>Validate</c>.
/// </summary>
public static class SettingReader
{
    /// <summary>
    /// Parses every given setting into <paramref name="options"/>, adding a problem for each value that does not
    /// parse. Then derive defaults that depend on other settings, and call <see cref="GivenSettings{TOptions}.Validate"/>.
    /// </summary>
    public static GivenSettings<TOptions> Read<TOptions>(IConfiguration configuration, string section, IReadOnlyList<Setting<TOptions>> settings,
        TOptions options, List<string> problems) where TOptions : class
    {
        var given = new GivenSettings<TOptions>(settings);
        foreach (var setting in settings)
        {
            var key = $"{section}:{setting.Key}";
            var (name, value) = configuration[setting.EnvName] is { } env
                ? (setting.EnvName, env)
                : (key, configuration[key] ?? JoinArray(configuration.GetSection(key)));
            if (value is null)
            {
                continue;
            }

            // Never echo a secret back, even a malformed one.
            var shown = given.Add(setting.Key, $"{name}={(setting.Secret ? "(redacted)" : value.Length == 0 ? "''" : value)}");
            if (setting.Apply(options, value) is { } expected)
            {
                // "expected a whole number between 1 and 100000000": the bounds are the property's [Range].
                if (typeof(TOptions).GetProperty(setting.Key)?.GetCustomAttribute<RangeAttribute>() is { } range)
                {
                    expected += $" between {range.Minimum} and {range.Maximum}";
                }

                problems.Add($"{shown} is invalid: {expected}.");
                given.Failed(setting.Key);
            }
        }

        return given;
    }

    public static string? Bool(string value, Action<bool> set)
    {
        switch (value.Trim().ToLowerInvariant())
        {
            case "true" or "1" or "yes" or "on":
                set(true);
                return null;
            case "false" or "0" or "no" or "off" or "":
                set(false);
                return null;
            default:
                return "expected true or false";
        }
    }

    public static string? Int(string value, Action<int> set) =>
        long.TryParse(value.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)
            ? Set(() => set((int)Math.Clamp(n, int.MinValue, int.MaxValue)))
            : "expected a whole number";

    public static string? Long(string value, Action<long> set) =>
        long.TryParse(value.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)
            ? Set(() => set(n))
            : "expected a whole number";

    /// <summary>A Go-syntax duration (<c>100ms</c>, <c>1m30s</c>, <c>30d</c>) or a .NET TimeSpan.</summary>
    public static string? Duration(string value, Action<TimeSpan> set, string expected = "expected a duration such as 100ms, 1s or 1m30s") =>
        GoDuration.TryParse(value, out var duration) ? Set(() => set(duration)) : expected;

    /// <summary>A comma-separated list; blanks around and between entries are dropped.</summary>
    public static string? List(string value, Action<string[]> set) =>
        Set(() => set(value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)));

    public static string? Set(Action set)
    {
        set();
        return null;
    }

    /// <summary>Array settings may come as one comma-separated string or as an indexed configuration section.</summary>
    private static string? JoinArray(IConfigurationSection section)
    {
        var items = section.GetChildren().Select(c => c.Value).Where(v => v is not null).ToList();
        return items.Count == 0 ? null : string.Join(',', items);
    }
}

/// <summary>The settings that were given (each as "NAME=value", the name it was given under), and which failed.</summary>
public sealed class GivenSettings<TOptions>(IReadOnlyList<Setting<TOptions>> settings) where TOptions : class
{
    private readonly Dictionary<string, string> _shown = new(StringComparer.Ordinal);
    private readonly HashSet<string> _failed = new(StringComparer.Ordinal);

    public bool IsGiven(string key) => _shown.ContainsKey(key);

    internal string Add(string key, string shown) => _shown[key] = shown;

    internal void Failed(string key) => _failed.Add(key);

    /// <summary>
    /// Runs <paramref name="validators"/> (the source-generated attribute validator first, then the class's
    /// cross-field rules) and adds each failure as "NAME=value is invalid: rule.". A failure is left out when a
    /// setting it names already has a problem: a rule between two settings speaks only once each is valid on its
    /// own, so one typo reads as one problem.
    /// </summary>
    public void Validate(TOptions options, List<string> problems, params IValidateOptions<TOptions>[] validators)
    {
        foreach (var validator in validators)
        {
            var failedHere = new List<string>();
            foreach (var failure in validator.Validate(Options.DefaultName, options).Failures ?? [])
            {
                // ValidateOptionsResultBuilder writes "Member[, Member]: message" for a result that names members.
                var colon = failure.IndexOf(": ", StringComparison.Ordinal);
                var members = colon < 0 ? [] : failure[..colon].Split(", ");
                if (members.Length == 0)
                {
                    problems.Add($"{failure}.");
                }
                else if (!members.Any(_failed.Contains))
                {
                    // DataAnnotations' own messages ([Range]'s) say "The field IngestOptions.QueueSize must be …"; the
                    // setting is named already. (The generated [Range] ignores ErrorMessage: dotnet/runtime#123137.)
                    var rule = failure[(colon + 2)..].TrimEnd('.');
                    var field = $"The field {typeof(TOptions).Name}.{members[0]} ";
                    rule = rule.StartsWith(field, StringComparison.Ordinal) ? rule[field.Length..] : rule;
                    problems.Add($"{_shown.GetValueOrDefault(members[0]) ?? Default(members[0], options)} is invalid: {rule}.");
                    failedHere.Add(members[0]);
                }
            }

            _failed.UnionWith(failedHere);
        }
    }

    /// <summary>A value nobody gave (a default, or one derived from another setting) that still broke a rule.</summary>
    private string Default(string member, TOptions options)
    {
        var setting = settings.FirstOrDefault(s => s.Key == member);
        var value = setting?.Secret == true ? "(redacted)" : typeof(TOptions).GetProperty(member)?.GetValue(options) switch
        {
            TimeSpan duration => GoDuration.Format(duration),
            string[] list => string.Join(',', list),
            IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
            var other => other?.ToString() ?? "",
        };
        return $"{setting?.EnvName ?? member}={value} (default)";
    }
}

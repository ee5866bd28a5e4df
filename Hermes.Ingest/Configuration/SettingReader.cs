using System.Globalization;

namespace Hermes.Ingest.Configuration;

/// <summary>
/// One setting: the seed-style environment name, the .NET key under an options section, and how a value is applied
/// (returning the rule it broke, or null). <paramref name="Secret"/> values are never echoed in errors.
/// </summary>
public sealed record Setting<TOptions>(string EnvName, string Key, Func<TOptions, string, string?> Apply, bool Secret = false);

/// <summary>
/// Reads settings the same way for every options class: the environment name wins over the .NET key, array
/// sections may stand for a comma-separated value, and every bad value is collected as "NAME=value is invalid: rule."
/// Also holds the parsers the options classes share.
/// </summary>
public static class SettingReader
{
    public static void Read<TOptions>(IConfiguration configuration, string section, IEnumerable<Setting<TOptions>> settings, TOptions options, List<string> problems)
    {
        foreach (var setting in settings)
        {
            var key = $"{section}:{setting.Key}";
            var (name, value) = configuration[setting.EnvName] is { } env
                ? (setting.EnvName, env)
                : (key, configuration[key] ?? JoinArray(configuration.GetSection(key)));
            if (value is not null && setting.Apply(options, value) is { } rule)
            {
                // Never echo a secret back, even a malformed one.
                var shown = setting.Secret ? "(redacted)" : value.Length == 0 ? "''" : value;
                problems.Add($"{name}={shown} is invalid: {rule}.");
            }
        }
    }

    /// <summary>Whether the setting was given under either of its names.</summary>
    public static bool IsSet(IConfiguration configuration, string section, string envName, string key) =>
        configuration[envName] is not null || configuration[$"{section}:{key}"] is not null;

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

    public static string? Int(string value, int min, int max, Action<int> set) =>
        Long(value, min, max, n => set((int)n));

    public static string? Long(string value, long min, long max, Action<long> set)
    {
        if (!long.TryParse(value.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n))
        {
            return $"expected a whole number between {min} and {max}";
        }

        if (n < min || n > max)
        {
            return $"must be between {min} and {max}";
        }

        set(n);
        return null;
    }

    /// <summary>A Go-syntax duration of at least <paramref name="min"/> (more than it when <paramref name="exclusive"/>).</summary>
    public static string? Duration(string value, TimeSpan min, Action<TimeSpan> set, bool exclusive = false)
    {
        if (!GoDuration.TryParse(value, out var d))
        {
            return "expected a duration such as 100ms, 1s or 1m30s";
        }

        if (d < min || (exclusive && d == min))
        {
            return (min, exclusive) switch
            {
                ({ Ticks: 0 }, true) => "must be greater than zero",
                ({ Ticks: 0 }, false) => "must not be negative",
                (_, true) => $"must be more than {min.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}ms",
                _ => $"must be at least {min.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}ms",
            };
        }

        set(d);
        return null;
    }

    /// <summary>A retention length: <c>0</c> (keep everything) or a duration of at least an hour (<c>30d</c>, <c>720h</c>).</summary>
    public static string? Retention(string value, Action<TimeSpan> set)
    {
        if (!GoDuration.TryParse(value, out var d))
        {
            return "expected 0 (keep everything) or a duration such as 30d, 720h or 90d";
        }

        if (d != TimeSpan.Zero && d < TimeSpan.FromHours(1))
        {
            return "must be 0 (keep everything) or at least 1h";
        }

        set(d);
        return null;
    }

    /// <summary>Array settings may come as one comma-separated string or as an indexed configuration section.</summary>
    private static string? JoinArray(IConfigurationSection section)
    {
        var items = section.GetChildren().Select(c => c.Value).Where(v => v is not null).ToList();
        return items.Count == 0 ? null : string.Join(',', items);
    }
}

using System.ComponentModel.DataAnnotations;
using System.Net;
using Microsoft.Extensions.Options;

namespace Hermes.Dashboard.Configuration;

/// <summary>
/// Every dashboard setting, with its rule beside it (<see cref="DashboardSettingsValidator"/>, source-generated) and
/// the rules between settings in <see cref="DashboardSettingsRules"/>. <see cref="DashboardSettingsLoader"/> reads
/// them from their environment names or .NET keys; consumers take <c>IOptions&lt;DashboardSettings&gt;</c>.
/// </summary>
public sealed class DashboardSettings
{
    /// <summary>INGEST_URL: ingest's address when Aspire does not inject <c>services__ingest__http__0</c>.</summary>
    public string? IngestUrl { get; set; }

    /// <summary>Ingest's address as shown to people (the empty state's curl line), when it differs from the one called.</summary>
    public string? IngestPublicUrl { get; set; }

    /// <summary>INGEST_API_KEY: the read key the server side sends to ingest (never the browser).</summary>
    public string? IngestApiKey { get; set; }

    /// <summary>DASHBOARD_ACCESS_KEY: the key typed into <c>/signin</c>.</summary>
    [AccessKey]
    public string? AccessKey { get; set; }

    /// <summary>OIDC_AUTHORITY: the OpenID Connect provider.</summary>
    [ProviderUrl]
    public string? Authority { get; set; }

    /// <summary>OIDC_CLIENT_ID: the dashboard's client (application) id at the provider.</summary>
    public string? ClientId { get; set; }

    /// <summary>OIDC_CLIENT_SECRET: for a confidential client.</summary>
    public string? ClientSecret { get; set; }
}

/// <summary>Checks the attributes on <see cref="DashboardSettings"/>' properties; the body is source-generated.</summary>
[OptionsValidator]
public sealed partial class DashboardSettingsValidator : IValidateOptions<DashboardSettings>;

/// <summary>The rules between the dashboard's settings, all in one place.</summary>
public sealed class DashboardSettingsRules : IValidateOptions<DashboardSettings>
{
    public ValidateOptionsResult Validate(string? name, DashboardSettings settings)
    {
        var failures = new List<string>();
        if (settings.Authority is not null && settings.ClientId is null)
        {
            failures.Add("OIDC_CLIENT_ID is missing: OIDC_AUTHORITY is set, so the dashboard needs its client (application) id at that provider.");
        }

        if (settings.IngestApiKey is not null && settings.AccessKey is null && settings.Authority is null)
        {
            failures.Add("INGEST_API_KEY is set, so ingest's counts are protected (READ_API_KEYS) and the dashboard must require sign-in: "
                + "set DASHBOARD_ACCESS_KEY (at least 16 characters) or OIDC_AUTHORITY and OIDC_CLIENT_ID.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>An access key long enough not to be guessed.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class AccessKeyAttribute : ValidationAttribute
{
    public override bool IsValid(object? value) => value is not string key || key.Length >= 16;

    public override string FormatErrorMessage(string name) => "use at least 16 characters, e.g. from `openssl rand -hex 24`";
}

/// <summary>An OpenID Connect provider whose metadata and keys come over TLS, except from a provider on this machine (a dev IdP).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ProviderUrlAttribute : ValidationAttribute
{
    public override bool IsValid(object? value) =>
        value is not string text
        || (Uri.TryCreate(text, UriKind.Absolute, out var uri)
            && (uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && IsLoopback(uri))));

    public override string FormatErrorMessage(string name) =>
        "expected the provider's https URL, e.g. https://login.microsoftonline.com/<tenant id>/v2.0 (http only on loopback)";

    private static bool IsLoopback(Uri uri) =>
        uri.IsLoopback || (IPAddress.TryParse(uri.Host, out var address) && IPAddress.IsLoopback(address));
}

/// <summary>A dashboard setting that cannot work; the dashboard reports every one and exits with code 2.</summary>
public sealed class DashboardSettingException(IReadOnlyList<string> problems) : Exception(string.Join(Environment.NewLine, problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}

/// <summary>
/// Reads <see cref="DashboardSettings"/>: each from its environment name (<c>DASHBOARD_ACCESS_KEY</c>) or, when that
/// is unset or empty, its .NET key (<c>Dashboard:AccessKey</c>), then runs both validators and throws
/// <see cref="DashboardSettingException"/> naming every setting that cannot work (secrets as <c>(redacted)</c>).
/// </summary>
public static class DashboardSettingsLoader
{
    private sealed record Setting(string? Variable, string Key, string Member, Action<DashboardSettings, string> Set, bool Secret = false);

    private static readonly Setting[] Settings =
    [
        new("INGEST_URL", "Ingest:Url", nameof(DashboardSettings.IngestUrl), (s, v) => s.IngestUrl = v),
        new(null, "Ingest:PublicUrl", nameof(DashboardSettings.IngestPublicUrl), (s, v) => s.IngestPublicUrl = v),
        new("INGEST_API_KEY", "Ingest:ApiKey", nameof(DashboardSettings.IngestApiKey), (s, v) => s.IngestApiKey = v, Secret: true),
        new("DASHBOARD_ACCESS_KEY", "Dashboard:AccessKey", nameof(DashboardSettings.AccessKey), (s, v) => s.AccessKey = v, Secret: true),
        new("OIDC_AUTHORITY", "Dashboard:OpenIdConnect:Authority", nameof(DashboardSettings.Authority), (s, v) => s.Authority = v),
        new("OIDC_CLIENT_ID", "Dashboard:OpenIdConnect:ClientId", nameof(DashboardSettings.ClientId), (s, v) => s.ClientId = v),
        new("OIDC_CLIENT_SECRET", "Dashboard:OpenIdConnect:ClientSecret", nameof(DashboardSettings.ClientSecret), (s, v) => s.ClientSecret = v, Secret: true),
    ];

    /// <summary>The environment names this reader knows (README's settings tables list each one).</summary>
    public static IEnumerable<string> SeedNames => Settings.Select(s => s.Variable).OfType<string>();

    /// <summary>Reads once per builder and registers the result as <c>IOptions&lt;DashboardSettings&gt;</c>.</summary>
    public static DashboardSettings AddDashboardSettings(this IHostApplicationBuilder builder)
    {
        if (builder.Properties.TryGetValue(typeof(DashboardSettings), out var loaded))
        {
            return (DashboardSettings)loaded;
        }

        var settings = Load(builder.Configuration);
        builder.Services.AddLoadedOptions<DashboardSettings, DashboardSettingsValidator, DashboardSettingsRules>(settings);
        builder.Properties[typeof(DashboardSettings)] = settings;
        return settings;
    }

    public static DashboardSettings Load(IConfiguration configuration)
    {
        var settings = new DashboardSettings();
        var shown = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var setting in Settings)
        {
            var (name, value) = setting.Variable is { } variable && configuration[variable] is { Length: > 0 } fromVariable
                ? (variable, fromVariable)
                : (setting.Key, configuration[setting.Key]);
            if (value is { Length: > 0 })
            {
                setting.Set(settings, value);
                shown[setting.Member] = $"{name}={(setting.Secret ? "(redacted)" : value)}";
            }
        }

        var problems = new List<string>();
        var failures = (new DashboardSettingsValidator().Validate(null, settings).Failures ?? [])
            .Concat(new DashboardSettingsRules().Validate(null, settings).Failures ?? []);
        foreach (var failure in failures)
        {
            // The generated validator writes "Member: message"; the rules write whole sentences.
            var colon = failure.IndexOf(": ", StringComparison.Ordinal);
            problems.Add(colon > 0 && shown.TryGetValue(failure[..colon], out var given) ? $"{given} is invalid: {failure[(colon + 2)..]}." : failure);
        }

        return problems.Count > 0 ? throw new DashboardSettingException(problems) : settings;
    }
}

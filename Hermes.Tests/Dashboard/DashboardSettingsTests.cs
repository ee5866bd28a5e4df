extern alias Dashboard;

using Dashboard::Hermes.Dashboard.Configuration;
using Hermes.Tests.Browser;
using Hermes.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Hermes.Tests.Dashboard;

public sealed class DashboardSettingsTests
{
    private static DashboardSettings Load(params (string Key, string Value)[] settings) => DashboardSettingsLoader.Load(Settings.Of(settings));

    [Fact]
    public void Every_setting_that_cannot_work_is_reported_at_once_under_the_name_it_was_given_and_secrets_redacted()
    {
        var error = Assert.Throws<DashboardSettingException>(() => Load(
            ("Dashboard:AccessKey", "short-secret"),
            ("OIDC_AUTHORITY", "http://login.example/tenant")));

        Assert.Equal(
            [
                "Dashboard:AccessKey=(redacted) is invalid: use at least 16 characters, e.g. from `openssl rand -hex 24`.",
                "OIDC_AUTHORITY=http://login.example/tenant is invalid: expected the provider's https URL, e.g. https://login.microsoftonline.com/<tenant id>/v2.0 (http only on loopback).",
                "OIDC_CLIENT_ID is missing: OIDC_AUTHORITY is set, so the dashboard needs its client (application) id at that provider.",
            ],
            error.Problems);
        Assert.DoesNotContain("short-secret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_variable_wins_over_the_key_and_an_empty_variable_leaves_the_key()
    {
        var settings = Load(
            ("INGEST_URL", "http://10.0.0.5:8080"),
            ("Ingest:Url", "http://ignored:8080"),
            ("DASHBOARD_ACCESS_KEY", ""),
            ("Dashboard:AccessKey", "0123456789abcdef"),
            ("OIDC_AUTHORITY", "http://127.0.0.1:5000/"),
            ("OIDC_CLIENT_ID", "hermes"));

        Assert.Equal(("http://10.0.0.5:8080", "0123456789abcdef", "http://127.0.0.1:5000/"), (settings.IngestUrl, settings.AccessKey, settings.Authority));
    }

    [Fact]
    public void A_read_key_without_a_sign_in_method_is_refused_by_the_cross_field_rules()
    {
        var error = Assert.Throws<DashboardSettingException>(() => Load(("Ingest:ApiKey", "dashboard-read-0123456789abcdef")));

        Assert.StartsWith("INGEST_API_KEY is set, so ingest's counts are protected", Assert.Single(error.Problems));
        Assert.Null(Load().IngestApiKey);
    }

    [Fact]
    public async Task Settings_changed_in_code_are_held_to_the_same_rules_when_the_host_starts()
    {
        // Nothing resolves IOptions<DashboardSettings> while the host starts, so only ValidateOnStart can catch this.
        await using var dashboard = new DashboardHost($"http://127.0.0.1:{Ports.Free()}");
        await using var changed = dashboard.WithWebHostBuilder(web => web.ConfigureServices(
            services => services.Configure<DashboardSettings>(settings => settings.Authority = "http://login.example/tenant")));
        changed.UseKestrel();

        var error = Assert.Throws<OptionsValidationException>(changed.StartServer);

        Assert.Contains(error.Failures, f => f.StartsWith("Authority: expected the provider's https URL", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("OIDC_CLIENT_ID is missing", StringComparison.Ordinal));
    }
}

extern alias AppHost;

using System.Diagnostics;
using System.Text.Json;
using AppHost::Hermes.AppHost;
using Aspire.Hosting.ApplicationModel;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;

namespace Hermes.Tests.AppHost;

/// <summary>
/// What `azd up` deploys: the manifest from `--publisher manifest`, read as azd reads it, and the container-app
/// templates in Hermes.AppHost/infra that azd uses in place of the ones it would generate from it.
/// </summary>
[NeedsAppHost]
[Collection(AppHostCollection.Name)]
public sealed class ManifestTests
{
    [Fact]
    public async Task Manifest_takes_a_managed_database_as_a_secret_connection_string_and_both_projects_with_external_http()
    {
        using var manifest = await PublishAsync();
        var resources = manifest.RootElement.GetProperty("resources");

        // No PostgreSQL container by default: on Container Apps its volume is an Azure Files share initdb cannot use.
        var names = resources.EnumerateObject().Select(r => r.Name).ToList();
        Assert.DoesNotContain("postgres", names);
        Assert.DoesNotContain(names, n => resources.GetProperty(n).GetProperty("type").GetString()!.StartsWith("container.", StringComparison.Ordinal));
        var database = resources.GetProperty("hermesdb");
        Assert.Equal("parameter.v0", database.GetProperty("type").GetString());
        Assert.Equal("{hermesdb.value}", database.GetProperty("connectionString").GetString());
        Assert.True(database.GetProperty("inputs").GetProperty("value").GetProperty("secret").GetBoolean());
        Assert.False(database.GetProperty("inputs").GetProperty("value").TryGetProperty("default", out _), "azd must ask for the connection string");

        foreach (var name in new[] { "ingest", "dashboard" })
        {
            var project = resources.GetProperty(name);
            Assert.StartsWith("project.", project.GetProperty("type").GetString());
            var http = project.GetProperty("bindings").GetProperty("http");
            Assert.Equal("http", http.GetProperty("scheme").GetString());
            Assert.True(http.GetProperty("external").GetBoolean(), $"{name}'s http binding is not external");
        }

        var ingestEnv = resources.GetProperty("ingest").GetProperty("env");
        Assert.Equal("{hermesdb.connectionString}", ingestEnv.GetProperty("ConnectionStrings__hermesdb").GetString());
        Assert.False(ingestEnv.TryGetProperty("SPILL_DIR", out _), "the manifest has no volume for it; infra/ingest.tmpl.yaml mounts one");
        Assert.False(ingestEnv.TryGetProperty("SPILL_SHARED", out _), "replicas in Azure share no spill directory");
        Assert.Equal("{ingest.bindings.http.url}", resources.GetProperty("dashboard").GetProperty("env").GetProperty("services__ingest__http__0").GetString());

        // Deployments are internet-facing: producer and read keys are secret parameters, wired to both projects, and
        // generated when left empty (letters and digits: a comma would split the key list).
        foreach (var secret in new[] { "api-keys", "read-api-key" })
        {
            var input = resources.GetProperty(secret).GetProperty("inputs").GetProperty("value");
            Assert.True(input.GetProperty("secret").GetBoolean(), secret);
            var generate = input.GetProperty("default").GetProperty("generate");
            Assert.True(generate.GetProperty("minLength").GetInt32() >= 16, secret);
            Assert.False(generate.GetProperty("special").GetBoolean(), secret);
        }

        Assert.Equal("{api-keys.value}", ingestEnv.GetProperty("API_KEYS").GetString());
        Assert.Equal("dashboard:{read-api-key.value}", ingestEnv.GetProperty("READ_API_KEYS").GetString());
        Assert.Equal("{read-api-key.value}", resources.GetProperty("dashboard").GetProperty("env").GetProperty("INGEST_API_KEY").GetString());

        // So the deployed dashboard requires sign-in: an access key (a secret parameter), with TLS ended at the ingress.
        Assert.True(resources.GetProperty("dashboard-access-key").GetProperty("inputs").GetProperty("value").GetProperty("secret").GetBoolean());
        var dashboardEnv = resources.GetProperty("dashboard").GetProperty("env");
        Assert.Equal("{dashboard-access-key.value}", dashboardEnv.GetProperty("DASHBOARD_ACCESS_KEY").GetString());
        Assert.Equal("true", dashboardEnv.GetProperty("ASPNETCORE_FORWARDEDHEADERS_ENABLED").GetString());

        // The machine-local PostgreSQL never reaches deploy output.
        Assert.DoesNotContain("postgres-init", names);
        Assert.DoesNotContain("postgres-local-password", names);

        // Nor does the sample producer, on by default in local runs: the deployed projects are ingest and the dashboard.
        Assert.DoesNotContain("sample-producer", names);
        Assert.DoesNotContain("sample-producer-key", names);
        Assert.Equal(["dashboard", "ingest"], names.Where(n => resources.GetProperty(n).GetProperty("type").GetString()!.StartsWith("project.", StringComparison.Ordinal)).Order());
    }

    [Fact]
    public async Task The_container_is_an_explicit_choice_pinned_to_the_tested_version_with_the_ingest_server_settings()
    {
        using var manifest = await PublishAsync("--Hermes:Postgres:Source=container");
        var resources = manifest.RootElement.GetProperty("resources");

        var postgres = resources.GetProperty("postgres");
        Assert.StartsWith("container.", postgres.GetProperty("type").GetString());
        var image = postgres.GetProperty("image").GetString()!;
        var tag = image[(image.LastIndexOf(':') + 1)..];

        // The tests run Debian's PostgreSQL of this major version; the deployment runs the same.
        Assert.Equal(Infrastructure.PostgresServer.BinDirectory, $"/usr/lib/postgresql/{tag}/bin");
        Assert.Equal(PostgresServerSettings.MajorVersion, tag);
        Assert.Equal(PostgresServerSettings.CommandLine(), postgres.GetProperty("args").EnumerateArray().Select(a => a.GetString()));
        Assert.Contains("{postgres-password.value}", postgres.GetProperty("env").GetProperty("POSTGRES_PASSWORD").GetString());
        Assert.NotEmpty(postgres.GetProperty("volumes").EnumerateArray());
        Assert.True(resources.GetProperty("postgres-password").GetProperty("inputs").GetProperty("value").GetProperty("secret").GetBoolean());
        Assert.Contains("Database=hermesdb", resources.GetProperty("hermesdb").GetProperty("connectionString").GetString());
    }

    [Fact]
    public async Task A_local_source_is_refused_for_a_deployment_with_a_message_naming_the_setting()
    {
        var (exitCode, log) = await AppHostProcess.RunAsync(
            ["--publisher", "manifest", "--output-path", TempManifestPath(), "--Hermes:Postgres:Source=local"], TestContext.Current.CancellationToken);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("Hermes:Postgres:Source=local is invalid for a deployment", log, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ingest")]
    [InlineData("dashboard")]
    public async Task The_container_app_azd_deploys_has_every_manifest_variable_and_the_AppHost_probes(string name)
    {
        using var manifest = await PublishAsync();
        var template = await File.ReadAllTextAsync(Path.Combine(AppHostProcess.RepositoryRoot, "Hermes.AppHost", "infra", name + ".tmpl.yaml"), TestContext.Current.CancellationToken);

        // Every variable the AppHost gives the project is in the template, secrets from the parameter azd stores.
        foreach (var variable in manifest.RootElement.GetProperty("resources").GetProperty(name).GetProperty("env").EnumerateObject())
        {
            Assert.Contains($"- name: {variable.Name}\n", template, StringComparison.Ordinal);
            foreach (var parameter in System.Text.RegularExpressions.Regex.Matches(variable.Value.GetString()!, @"\{([a-z-]+)\.(?:value|connectionString)\}"))
            {
                Assert.Contains($"securedParameter \"{((System.Text.RegularExpressions.Match)parameter).Groups[1].Value.Replace('-', '_')}\"", template, StringComparison.Ordinal);
            }
        }

        // The probes declared in AppHost.cs, with their timings.
        using var builder = await AppHostModelTests.CreateAsync("--Hermes:Postgres:Source=external", "--ConnectionStrings:hermesdb=Host=db;Database=hermes");
        var probes = builder.Resources.Single(r => r.Name == name).Annotations.OfType<EndpointProbeAnnotation>().ToList();
        Assert.Equal([ProbeType.Readiness, ProbeType.Liveness], probes.Select(p => p.Type).Order());
        foreach (var probe in probes)
        {
            var expected = $"- type: {probe.Type}\n            httpGet:\n              path: {probe.Path}\n              port: {{{{ targetPortOrDefault 8080 }}}}\n"
                + $"            initialDelaySeconds: {probe.InitialDelaySeconds}\n"
                + $"            periodSeconds: {probe.PeriodSeconds}\n            timeoutSeconds: {probe.TimeoutSeconds}\n            failureThreshold: {probe.FailureThreshold}\n";
            Assert.Contains(expected, template, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_README_sets_the_same_server_settings_on_the_managed_server()
    {
        var readme = File.ReadAllText(Path.Combine(AppHostProcess.RepositoryRoot, "README.md"));
        var set = System.Text.RegularExpressions.Regex.Matches(readme, @"az postgres flexible-server parameter set [^\n]*--name (\S+) --value (\S+)")
            .Select(m => (m.Groups[1].Value, m.Groups[2].Value));
        Assert.Equal(PostgresServerSettings.Ingest.Select(s => (s.Name, s.AzureValue)).Order(), set.Order());
        Assert.Contains($"--version {PostgresServerSettings.MajorVersion}", readme, StringComparison.Ordinal);
    }

    private static async Task<JsonDocument> PublishAsync(params string[] args)
    {
        var ct = TestContext.Current.CancellationToken;
        var path = TempManifestPath();
        try
        {
            var (exitCode, log) = await AppHostProcess.RunAsync(["--publisher", "manifest", "--output-path", path, .. args], ct);
            Assert.True(exitCode == 0, $"manifest publisher exited with {exitCode}:\n{log}");
            return JsonDocument.Parse(await File.ReadAllTextAsync(path, ct));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string TempManifestPath() => Path.Combine(Path.GetTempPath(), $"hermes-manifest-{Guid.NewGuid():N}.json");
}

/// <summary>Runs the built Hermes.AppHost as a process, the way `dotnet run --project Hermes.AppHost -- ...` does.</summary>
internal static class AppHostProcess
{
    public static string RepositoryRoot => Infrastructure.Repository.Root;

    public static async Task<(int ExitCode, string Log)> RunAsync(string[] args, CancellationToken ct)
    {
        var dll = Path.Combine(RepositoryRoot, "Hermes.AppHost", "bin", BuildConfiguration, "net10.0", "Hermes.AppHost.dll");
        var start = new ProcessStartInfo("dotnet", ["exec", dll, .. args])
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        try
        {
            await process.WaitForExitAsync(ct).WaitAsync(TimeSpan.FromSeconds(60), ct);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>Debug or Release: whichever this test assembly was built as, so the AppHost next to it is the one run.</summary>
    public static string BuildConfiguration =>
#if DEBUG
        "Debug";
#else
        "Release";
#endif
}

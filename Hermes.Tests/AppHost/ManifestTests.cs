using System.Diagnostics;
using System.Text.Json;

namespace Hermes.Tests.AppHost;

/// <summary>What `azd up` deploys: the manifest from `--publisher manifest`, read as azd reads it.</summary>
[Collection(AppHostCollection.Name)]
public sealed class ManifestTests
{
    [Fact]
    public async Task Manifest_has_a_postgres_container_a_secret_password_and_both_projects_with_external_http()
    {
        var ct = TestContext.Current.CancellationToken;
        var path = Path.Combine(Path.GetTempPath(), $"hermes-manifest-{Guid.NewGuid():N}.json");
        try
        {
            var (exitCode, log) = await AppHostProcess.RunAsync(["--publisher", "manifest", "--output-path", path], ct);
            Assert.True(exitCode == 0, $"manifest publisher exited with {exitCode}:\n{log}");
            using var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(path, ct));
            var resources = manifest.RootElement.GetProperty("resources");

            var postgres = resources.GetProperty("postgres");
            Assert.StartsWith("container.", postgres.GetProperty("type").GetString());
            Assert.Contains("postgres", postgres.GetProperty("image").GetString());
            Assert.Contains("{postgres-password.value}", postgres.GetProperty("env").GetProperty("POSTGRES_PASSWORD").GetString());
            Assert.NotEmpty(postgres.GetProperty("volumes").EnumerateArray());

            var password = resources.GetProperty("postgres-password");
            Assert.Equal("parameter.v0", password.GetProperty("type").GetString());
            Assert.True(password.GetProperty("inputs").GetProperty("value").GetProperty("secret").GetBoolean());

            Assert.Contains("Database=hermesdb", resources.GetProperty("hermesdb").GetProperty("connectionString").GetString());

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
            Assert.False(ingestEnv.TryGetProperty("SPILL_DIR", out _), "each container has its own disk; SPILL_DIR is for local replicas only");
            Assert.Equal("{ingest.bindings.http.url}", resources.GetProperty("dashboard").GetProperty("env").GetProperty("services__ingest__http__0").GetString());

            // Deployments are internet-facing: producer and read keys are secret parameters, wired to both projects.
            foreach (var secret in new[] { "api-keys", "read-api-key" })
            {
                Assert.True(resources.GetProperty(secret).GetProperty("inputs").GetProperty("value").GetProperty("secret").GetBoolean(), secret);
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
            var names = resources.EnumerateObject().Select(r => r.Name).ToList();
            Assert.DoesNotContain("postgres-init", names);
            Assert.DoesNotContain("postgres-local-password", names);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

/// <summary>Runs the built Hermes.AppHost as a process, the way `dotnet run --project Hermes.AppHost -- ...` does.</summary>
internal static class AppHostProcess
{
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

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

    private static string FindRepositoryRoot()
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

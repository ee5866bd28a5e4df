extern alias AppHost;

using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;

namespace Hermes.Tests.AppHost;

/// <summary>Which resources each PostgreSQL source declares, read from the app model without starting anything.</summary>
[Collection(AppHostCollection.Name)]
public sealed class AppHostModelTests
{
    [Fact]
    public async Task Local_source_runs_initdb_then_the_server_as_executables_and_no_container()
    {
        var root = TempRoot();
        try
        {
            using var builder = await CreateAsync("--Hermes:Postgres:Source=local", "--Hermes:Postgres:DataDirectory=" + root);

            var executables = builder.Resources.OfType<ExecutableResource>().Select(r => r.Name).ToList();
            Assert.Contains("postgres-init", executables);
            Assert.Contains("postgres", executables);
            Assert.Empty(builder.Resources.OfType<ContainerResource>());
            Assert.Contains(builder.Resources, r => r.Name == "hermesdb" && r is IResourceWithConnectionString);
            Assert.True(File.Exists(Path.Combine(root, "password")), "the superuser password is made once, before initdb runs");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task Container_source_declares_the_postgres_container_with_a_data_volume()
    {
        using var builder = await CreateAsync("--Hermes:Postgres:Source=container");

        var postgres = Assert.Single(builder.Resources.OfType<ContainerResource>(), r => r.Name == "postgres");
        Assert.Contains(postgres.Annotations.OfType<ContainerMountAnnotation>(), m => m.Type == ContainerMountType.Volume);
        Assert.DoesNotContain(builder.Resources.OfType<ExecutableResource>(), r => r.Name.StartsWith("postgres", StringComparison.Ordinal));
    }

    [Fact]
    public async Task External_source_declares_no_server_and_ingest_waits_for_nothing_postgres()
    {
        using var builder = await CreateAsync("--Hermes:Postgres:Source=external", "--ConnectionStrings:hermesdb=Host=db.example;Database=hermes");

        Assert.DoesNotContain(builder.Resources, r => r.Name.StartsWith("postgres", StringComparison.Ordinal));
        var ingest = Assert.Single(builder.Resources.OfType<ProjectResource>(), r => r.Name == "ingest");
        Assert.DoesNotContain(ingest.Annotations.OfType<WaitAnnotation>(), w => w.Resource.Name.StartsWith("postgres", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Api_keys_are_secret_parameters_only_when_configured_for_a_local_run(bool configured)
    {
        string[] args = ["--Hermes:Postgres:Source=external", "--ConnectionStrings:hermesdb=Host=db;Database=hermes"];
        using var builder = await CreateAsync(configured
            ? [.. args, "--Parameters:api-keys=mobile:0123456789abcdef0123", "--Parameters:read-api-key=reader-0123456789abcdef"]
            : args);

        var parameters = builder.Resources.OfType<ParameterResource>().Where(p => p.Name.Contains("api-key", StringComparison.Ordinal)).ToList();
        Assert.Equal(configured ? 2 : 0, parameters.Count);
        Assert.All(parameters, p => Assert.True(p.Secret, p.Name));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_dashboard_given_a_read_key_gets_an_access_key_or_the_configured_OpenID_Connect_provider(bool oidc)
    {
        string[] args = ["--Hermes:Postgres:Source=external", "--ConnectionStrings:hermesdb=Host=db;Database=hermes", "--Parameters:read-api-key=reader-0123456789abcdef"];
        using var builder = await CreateAsync(oidc
            ? [.. args, "--Parameters:dashboard-oidc-authority=https://login.microsoftonline.com/tenant/v2.0", "--Parameters:dashboard-oidc-client-id=client-1", "--Parameters:dashboard-oidc-client-secret=s3cret"]
            : [.. args, "--Parameters:dashboard-access-key=access-0123456789abcdef"]);
        var dashboard = Assert.Single(builder.Resources.OfType<ProjectResource>(), r => r.Name == "dashboard");

        // The dashboard's environment as the AppHost wires it: which variable gets which parameter.
        var environment = new Dictionary<string, object>();
        var context = new EnvironmentCallbackContext(new DistributedApplicationExecutionContext(DistributedApplicationOperation.Publish), dashboard, environment);
        foreach (var callback in dashboard.Annotations.OfType<EnvironmentCallbackAnnotation>())
        {
            await callback.Callback(context);
        }

        string? Parameter(string variable) => environment.GetValueOrDefault(variable) is ParameterResource p ? p.Name : null;
        if (oidc)
        {
            Assert.Equal("dashboard-oidc-authority", Parameter("OIDC_AUTHORITY"));
            Assert.Equal("dashboard-oidc-client-id", Parameter("OIDC_CLIENT_ID"));
            Assert.Equal("dashboard-oidc-client-secret", Parameter("OIDC_CLIENT_SECRET"));
            Assert.True(Assert.Single(builder.Resources.OfType<ParameterResource>(), p => p.Name == "dashboard-oidc-client-secret").Secret);
            Assert.DoesNotContain("DASHBOARD_ACCESS_KEY", environment.Keys);
        }
        else
        {
            Assert.Equal("dashboard-access-key", Parameter("DASHBOARD_ACCESS_KEY"));
            Assert.True(Assert.Single(builder.Resources.OfType<ParameterResource>(), p => p.Name == "dashboard-access-key").Secret);
            Assert.DoesNotContain("OIDC_AUTHORITY", environment.Keys);
        }
    }

    [Fact]
    public async Task Ingest_replicas_come_from_configuration()
    {
        using var builder = await CreateAsync("--Hermes:Postgres:Source=external", "--ConnectionStrings:hermesdb=Host=db;Database=hermes", "--Hermes:IngestReplicas=3");

        var ingest = Assert.Single(builder.Resources.OfType<ProjectResource>(), r => r.Name == "ingest");
        Assert.Equal(3, Assert.Single(ingest.Annotations.OfType<ReplicaAnnotation>()).Replicas);
    }

    [Theory]
    [InlineData("sqlite", "1", "Hermes:Postgres:Source=sqlite is invalid")]
    [InlineData("external", "0", "Hermes:IngestReplicas=0 is invalid")]
    public async Task A_bad_setting_stops_the_AppHost_with_a_message_naming_it(string source, string replicas, string message)
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => CreateAsync(
            $"--Hermes:Postgres:Source={source}", $"--Hermes:IngestReplicas={replicas}", "--ConnectionStrings:hermesdb=Host=db;Database=hermes"));
        Assert.Contains(message, Flatten(ex), StringComparison.Ordinal);
    }

    private static async Task<IDistributedApplicationTestingBuilder> CreateAsync(params string[] args) =>
        await DistributedApplicationTestingBuilder.CreateAsync<AppHost::Program>(args, (options, _) => options.DisableDashboard = true, TestContext.Current.CancellationToken)
            .WaitAsync(HermesStack.StepTimeout, TestContext.Current.CancellationToken);

    private static string Flatten(Exception ex) => ex.InnerException is null ? ex.Message : ex.Message + " | " + Flatten(ex.InnerException);

    private static string TempRoot() => Path.Combine(Path.GetTempPath(), "hermes-apphost-model-" + Guid.NewGuid().ToString("N")[..12]);
}

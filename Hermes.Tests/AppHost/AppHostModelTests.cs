extern alias AppHost;

using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using AppHost::Hermes.AppHost;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;

namespace Hermes.Tests.AppHost;

/// <summary>Which resources each PostgreSQL source declares, read from the app model without starting anything.</summary>
[Collection(AppHostCollection.Name)]
public sealed class AppHostModelTests
{
    [Fact]
    [NeedsPostgreSql] // the local source looks for the binaries while the model is built
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
    [NeedsPostgreSql] // the local source looks for the binaries while the model is built
    public async Task The_local_database_lives_in_a_directory_of_this_AppHost_and_gets_the_ingest_server_settings()
    {
        // Arrange: the hash Aspire names this AppHost's volumes with (AppHostSha overrides the hash of its path), as if
        // the checkout lived somewhere else.
        var hash = Convert.ToHexString(Guid.NewGuid().ToByteArray()).ToLowerInvariant();
        var root = Path.Combine(Path.GetTempPath(), "hermes-apphost-" + hash[..10]);
        try
        {
            using var builder = await CreateAsync("--Hermes:Postgres:Source=local", "--AppHostSha=" + hash);

            var init = Assert.Single(builder.Resources.OfType<ExecutableResource>(), r => r.Name == "postgres-init");
            Assert.Equal(Path.Combine(root, "postgres"), init.WorkingDirectory);
            // The callbacks alone, unevaluated: ingest's other variables name endpoints allocated only once the app runs.
            var environment = new EnvironmentCallbackContext(builder.ExecutionContext);
            foreach (var callback in Assert.Single(builder.Resources.OfType<ProjectResource>(), r => r.Name == "ingest").Annotations.OfType<EnvironmentCallbackAnnotation>())
            {
                await callback.Callback(environment);
            }

            Assert.Equal(Path.Combine(root, "spill"), environment.EnvironmentVariables["SPILL_DIR"]);
            Assert.Equal("true", environment.EnvironmentVariables["SPILL_SHARED"]);

            var server = Assert.Single(builder.Resources.OfType<ExecutableResource>(), r => r.Name == "postgres");
#pragma warning disable CS0618 // ExecutionConfigurationBuilder, the replacement, needs the started app's services.
            var args = await server.GetArgumentValuesAsync();
#pragma warning restore CS0618
            foreach (var setting in PostgresServerSettings.Ingest)
            {
                Assert.Contains($"{setting.Name}={setting.Value}", args);
            }
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    [Fact]
    [NeedsPostgreSql] // the local source looks for the binaries while the model is built
    public async Task No_resource_asks_for_a_development_certificate_so_the_Aspire_dashboard_shows_no_certificate_banner()
    {
        var root = TempRoot();
        try
        {
            using var builder = await CreateAsync("--Hermes:Postgres:Source=local", "--Hermes:Postgres:DataDirectory=" + root);

            // What Aspire's DcpHost checks before it warns "No trusted Aspire development certificate was found".
            foreach (var resource in builder.Resources)
            {
                Assert.DoesNotContain(resource.Annotations.OfType<EndpointAnnotation>(), e => e.UriScheme == "https");
                if (resource.Annotations.OfType<HttpsCertificateConfigurationCallbackAnnotation>().Any())
                {
                    Assert.True(resource.Annotations.OfType<HttpsCertificateAnnotation>().LastOrDefault() is { UseDeveloperCertificate: false, Certificate: null },
                        $"{resource.Name} would get the development certificate");
                }
            }
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

    [Fact]
    public async Task The_sample_producer_runs_locally_by_default_found_by_service_discovery_after_ingest_is_up()
    {
        using var builder = await CreateAsync("--Hermes:Postgres:Source=external", "--ConnectionStrings:hermesdb=Host=db;Database=hermes", "--Hermes:SampleProducer:EventsPerSecond=120");

        var producer = Assert.Single(builder.Resources.OfType<ProjectResource>(), r => r.Name == "sample-producer");
        Assert.Contains(producer.Annotations.OfType<WaitAnnotation>(), w => w.Resource.Name == "ingest");
        var environment = await EnvironmentOfAsync(builder, producer);
        Assert.Contains("services__ingest__http__0", environment.Keys);
        // Nothing bypasses service discovery: the AppHost applies the launch profile's variables too.
        Assert.DoesNotContain(environment.Keys, k => k.StartsWith("Hermes__Client__Endpoint", StringComparison.Ordinal) || k.StartsWith("ConnectionStrings__ingest", StringComparison.Ordinal));
        Assert.Equal("120", environment["Hermes__SampleProducer__EventsPerSecond"]);
        Assert.DoesNotContain("Hermes__Client__ApiKey", environment.Keys); // ingest takes events without keys here
    }

    [Fact]
    public async Task Hermes_SampleProducer_Enabled_false_leaves_it_out_and_a_bad_value_is_named()
    {
        using var builder = await CreateAsync("--Hermes:Postgres:Source=external", "--ConnectionStrings:hermesdb=Host=db;Database=hermes", "--Hermes:SampleProducer:Enabled=false");

        Assert.DoesNotContain(builder.Resources, r => r.Name.StartsWith("sample-producer", StringComparison.Ordinal));
        Assert.Equal(["dashboard", "ingest"], builder.Resources.OfType<ProjectResource>().Select(r => r.Name).Order());

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => CreateAsync(
            "--Hermes:Postgres:Source=external", "--ConnectionStrings:hermesdb=Host=db;Database=hermes", "--Hermes:SampleProducer:Enabled=maybe"));
        Assert.Contains("Hermes:SampleProducer:Enabled=maybe is invalid: expected true or false.", Flatten(ex), StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_producer_keys_configured_the_sample_producer_gets_a_key_of_its_own_that_ingest_accepts()
    {
        using var builder = await CreateAsync("--Hermes:Postgres:Source=external", "--ConnectionStrings:hermesdb=Host=db;Database=hermes",
            "--Parameters:api-keys=mobile:0123456789abcdef0123");

        var key = Assert.Single(builder.Resources.OfType<ParameterResource>(), p => p.Name == "sample-producer-key");
        Assert.True(key.Secret);
        var producer = Assert.Single(builder.Resources.OfType<ProjectResource>(), r => r.Name == "sample-producer");
        var ingest = Assert.Single(builder.Resources.OfType<ProjectResource>(), r => r.Name == "ingest");
        Assert.Same(key, (await EnvironmentOfAsync(builder, producer))["Hermes__Client__ApiKey"]);
        var apiKeys = Assert.IsType<ReferenceExpression>((await EnvironmentOfAsync(builder, ingest))["API_KEYS"]);
        Assert.Equal("{0},sample-producer:{1}", apiKeys.Format);
        Assert.Equal(["api-keys", "sample-producer-key"], apiKeys.ValueProviders.OfType<ParameterResource>().Select(p => p.Name));
    }

    /// <summary>A resource's environment as the AppHost wires it, unevaluated: which variable gets which value or parameter.</summary>
    private static async Task<Dictionary<string, object>> EnvironmentOfAsync(IDistributedApplicationTestingBuilder builder, IResource resource)
    {
        var environment = new Dictionary<string, object>();
        var context = new EnvironmentCallbackContext(builder.ExecutionContext, resource, environment);
        foreach (var callback in resource.Annotations.OfType<EnvironmentCallbackAnnotation>())
        {
            await callback.Callback(context);
        }

        return environment;
    }

    internal static async Task<IDistributedApplicationTestingBuilder> CreateAsync(params string[] args) =>
        await DistributedApplicationTestingBuilder.CreateAsync<AppHost::Program>(args, (options, _) => options.DisableDashboard = true, TestContext.Current.CancellationToken)
            .WaitAsync(HermesStack.StepTimeout, TestContext.Current.CancellationToken);

    private static string Flatten(Exception ex) => ex.InnerException is null ? ex.Message : ex.Message + " | " + Flatten(ex.InnerException);

    private static string TempRoot() => Path.Combine(Path.GetTempPath(), "hermes-apphost-model-" + Guid.NewGuid().ToString("N")[..12]);
}

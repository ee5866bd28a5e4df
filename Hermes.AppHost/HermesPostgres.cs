using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Hermes.AppHost;

/// <summary>Where the stack's PostgreSQL comes from: <c>Hermes:Postgres:Source</c>, <c>auto</c> unless set.</summary>
public enum PostgresSource
{
    /// <summary>Run: container when a container runtime answers, else local binaries. Publish: external (a managed server).</summary>
    Auto,

    /// <summary>
    /// <c>AddPostgres(...).WithDataVolume()</c>, pinned to <see cref="PostgresServerSettings.MajorVersion"/>. Deployed only
    /// when chosen explicitly: on Azure Container Apps its volume is an Azure Files share that initdb cannot use.
    /// </summary>
    Container,

    /// <summary>The machine's own PostgreSQL binaries as executable resources (initdb once, then the server).</summary>
    Local,

    /// <summary>An existing server: <c>ConnectionStrings:hermesdb</c>. What a deployment gets unless told otherwise.</summary>
    External,
}

/// <summary>What <see cref="HermesPostgresExtensions.AddHermesPostgres"/> declared and why.</summary>
/// <param name="Database">The <c>hermesdb</c> connection string dependents reference.</param>
/// <param name="Server">The resource dependents wait for; null for an external server (nothing to wait on).</param>
/// <param name="DataDirectory">Where the local binaries keep the cluster; null for the other sources.</param>
public sealed record HermesPostgres(
    IResourceBuilder<IResourceWithConnectionString> Database,
    IResourceBuilder<IResource>? Server,
    PostgresSource Source,
    string Reason,
    string? DataDirectory = null);

public static class HermesPostgresExtensions
{
    public const string DatabaseName = "hermesdb";
    private const string SourceKey = "Hermes:Postgres:Source";

    public static HermesPostgres AddHermesPostgres(this IDistributedApplicationBuilder builder)
    {
        var configured = builder.Configuration[SourceKey];
        var source = PostgresSource.Auto;
        if (!string.IsNullOrWhiteSpace(configured) && !Enum.TryParse(configured, ignoreCase: true, out source))
        {
            throw new DistributedApplicationException(
                $"{SourceKey}={configured} is invalid: expected auto, container, local or external.");
        }

        // Deploy output describes the production shape, whatever this machine happens to have: a managed server
        // (Azure Database for PostgreSQL) unless the container is asked for by name.
        if (!builder.ExecutionContext.IsRunMode)
        {
            return source switch
            {
                PostgresSource.Container => AddContainer(builder, $"{SourceKey}=container"),
                PostgresSource.Local => throw new DistributedApplicationException(
                    $"{SourceKey}=local is invalid for a deployment: this machine's binaries are not deployed. Expected auto or external "
                    + "(a managed server, the default) or container."),
                _ => AddManaged(builder),
            };
        }

        return source switch
        {
            PostgresSource.Container => AddContainer(builder, $"{SourceKey}=container"),
            PostgresSource.Local => AddLocal(builder, $"{SourceKey}=local"),
            PostgresSource.External => AddExternal(builder),
            _ => ContainerRuntime.Probe() is { Running: true } probe
                ? AddContainer(builder, $"container runtime '{probe.Name}' is running")
                : AddLocal(builder, $"no container runtime is running ({ContainerRuntime.Probe().Detail})"),
        };
    }

    /// <summary>
    /// Where this AppHost keeps its local state (the local PostgreSQL, the spill): <c>$TMPDIR/hermes-apphost-&lt;hash&gt;</c>,
    /// the hash being the one Aspire names this AppHost's volumes with (of its path), so two checkouts never share a database.
    /// </summary>
    public static string AppHostDataRoot(this IDistributedApplicationBuilder builder)
    {
        var hash = builder.Configuration["AppHost:PathSha256"] is { Length: >= 10 } sha ? sha[..10].ToLowerInvariant() : "default";
        return Path.Combine(Path.GetTempPath(), "hermes-apphost-" + hash);
    }

    /// <summary><c>Hermes:IngestReplicas</c>: how many ingest processes run behind the one endpoint (default 1).</summary>
    public static int IngestReplicas(this IDistributedApplicationBuilder builder)
    {
        var value = builder.Configuration["Hermes:IngestReplicas"];
        if (string.IsNullOrWhiteSpace(value))
        {
            return 1;
        }

        return int.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var replicas) && replicas is >= 1 and <= 64
            ? replicas
            : throw new DistributedApplicationException($"Hermes:IngestReplicas={value} is invalid: expected a whole number between 1 and 64.");
    }

    public static IResourceBuilder<T> WaitForIfPresent<T>(this IResourceBuilder<T> builder, IResourceBuilder<IResource>? dependency)
        where T : IResourceWithWaitSupport =>
        dependency is null ? builder : builder.WaitFor(dependency);

    public static void LogPostgresSource(this DistributedApplication app, HermesPostgres postgres, int ingestReplicas)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Hermes.AppHost");
        Log.SourceChosen(logger, postgres.Source.ToString().ToLowerInvariant(), postgres.Reason, ingestReplicas);
        if (postgres.DataDirectory is { } directory)
        {
            Log.LocalDataDirectory(logger, directory);
        }
    }

    private static HermesPostgres AddContainer(IDistributedApplicationBuilder builder, string reason)
    {
        var server = builder.AddPostgres("postgres")
            // The version the tests run against (Debian's postgresql-15), not whatever the integration defaults to.
            .WithImageTag(PostgresServerSettings.MajorVersion)
            // The image's entrypoint runs postgres with arguments that start with '-'.
            .WithArgs([.. PostgresServerSettings.CommandLine()])
            // Events and rollups survive an AppHost restart; the volume is named after the AppHost, not random.
            .WithDataVolume();
        var database = server.AddDatabase(DatabaseName);

        // The database resource turns healthy only once hermesdb exists, so it is the one to wait for.
        return new(database, database, PostgresSource.Container, reason);
    }

    /// <summary>
    /// A deployment's database: a secret connection-string parameter that <c>azd up</c> asks for, pointing at Azure
    /// Database for PostgreSQL flexible server (README, "Deploy", has the commands that create one).
    /// </summary>
    private static HermesPostgres AddManaged(IDistributedApplicationBuilder builder)
    {
        var database = builder.AddConnectionString(DatabaseName);
        builder.CreateResourceBuilder((ParameterResource)database.Resource).WithDescription(
            "Connection string of the PostgreSQL database Hermes stores events in, in Npgsql form, for example "
            + "`Host=<server>.postgres.database.azure.com;Database=hermesdb;Username=hermes;Password=<password>;Ssl Mode=Require`. "
            + $"Create an Azure Database for PostgreSQL flexible server (version {PostgresServerSettings.MajorVersion}) first: the README's \"Deploy\" section has the az commands.",
            enableMarkdown: true);
        return new(database, null, PostgresSource.External, $"a deployment uses a managed server (ConnectionStrings:{DatabaseName}, a secret parameter)");
    }

    private static HermesPostgres AddExternal(IDistributedApplicationBuilder builder)
    {
        var database = builder.AddConnectionString(DatabaseName);
        return new(database, null, PostgresSource.External, $"{SourceKey}=external, ConnectionStrings:{DatabaseName}");
    }

    private static HermesPostgres AddLocal(IDistributedApplicationBuilder builder, string reason)
    {
        var bin = LocalPostgres.FindBinDirectory(builder.Configuration["Hermes:Postgres:BinDirectory"])
            ?? throw new DistributedApplicationException(
                "No container runtime is running and no PostgreSQL binaries were found (looked in Hermes:Postgres:BinDirectory, "
                + "/usr/lib/postgresql/*/bin and PATH). Start Docker or Podman, install PostgreSQL (apt-get install postgresql-15), "
                + "or set Hermes:Postgres:Source=external with ConnectionStrings:hermesdb.");
        var root = Path.GetFullPath(builder.Configuration["Hermes:Postgres:DataDirectory"]
            ?? Path.Combine(builder.AppHostDataRoot(), "postgres"));
        var local = LocalPostgres.Prepare(root);

        var password = builder.AddParameter("postgres-local-password", local.Password, secret: true);

        // initdb as its own resource so its output shows in the dashboard; it exits at once once the cluster exists.
        var init = builder.AddExecutable("postgres-init", "/bin/sh", root, "-c", LocalPostgres.InitScript)
            .WithEnvironment("HERMES_PG_ROOT", root)
            .WithEnvironment("HERMES_PG_BIN", bin)
            .WithEnvironment("HERMES_PG_DATABASE", DatabaseName);

        var (command, prefix) = local.RunAsPostgresUser
            ? ("setpriv", new[] { "--reuid=postgres", "--regid=postgres", "--init-groups", Path.Combine(bin, "postgres") })
            : (Path.Combine(bin, "postgres"), []);
        var server = builder.AddExecutable("postgres", command, root, [.. prefix,
                "-D", local.DataDirectory,
                // TCP on loopback only; no Unix socket, whose default directory a non-root user cannot write.
                "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                // Each ingest replica pools up to MAX_OPEN_CONNS (100); 2-3 replicas must not hit the default 100.
                "-c", "max_connections=400",
                .. PostgresServerSettings.CommandLine()])
            // DCP picks a free port and hands it over in PGPORT, which postgres reads; no fixed port to collide on.
            .WithEndpoint(name: "tcp", scheme: "tcp", env: "PGPORT")
            .WaitForCompletion(init);

        var endpoint = server.GetEndpoint("tcp");
        var connectionString = ReferenceExpression.Create(
            $"Host={endpoint.Property(EndpointProperty.Host)};Port={endpoint.Property(EndpointProperty.Port)};Username=postgres;Password={password};Database={DatabaseName}");
        var database = builder.AddConnectionString(DatabaseName, connectionString);

        // The connection-string resource is healthy at once; this is what says the server accepts queries.
        var healthCheck = "postgres-local-select-1";
        builder.Services.AddHealthChecks().AddAsyncCheck(healthCheck, async cancellationToken =>
        {
            try
            {
                await using var connection = new NpgsqlConnection(await connectionString.GetValueAsync(cancellationToken));
                await connection.OpenAsync(cancellationToken);
                await using var command = new NpgsqlCommand("select 1", connection);
                await command.ExecuteScalarAsync(cancellationToken);
                return Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy();
            }
            catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
            {
                return Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Unhealthy(ex.Message);
            }
        });
        server.WithHealthCheck(healthCheck);

        return new(database, server, PostgresSource.Local, reason, local.Root);
    }
}

internal static partial class Log
{
    [LoggerMessage(Level = LogLevel.Information, Message = "PostgreSQL source: {Source}, because {Reason}. Ingest replicas: {Replicas}.")]
    public static partial void SourceChosen(ILogger logger, string source, string reason, int replicas);

    [LoggerMessage(Level = LogLevel.Information, Message = "Local PostgreSQL data directory: {Directory} (this checkout's own; delete it to start from an empty database).")]
    public static partial void LocalDataDirectory(ILogger logger, string directory);
}

using Hermes.AppHost;
using Microsoft.Extensions.Configuration;

// Hermes's full stack: PostgreSQL, ingest and the dashboard, started together and watched by the Aspire dashboard.
var builder = DistributedApplication.CreateBuilder(args);

// Container, local binaries or an external server (Hermes:Postgres:Source); publish output always gets the container.
var postgres = builder.AddHermesPostgres();
var replicas = builder.IngestReplicas();

var ingest = builder.AddProject<Projects.Hermes_Ingest>("ingest")
    // Hands ingest ConnectionStrings__hermesdb, which turns its Postgres sink on (it creates its schema itself).
    .WithReference(postgres.Database)
    // The sink migrates its schema at start; waiting on the server (not the connection string) avoids a cold spill.
    .WaitForIfPresent(postgres.Server)
    // Readiness, not liveness: /health turns 503 while ingest drains at shutdown, so it drops out of rotation first.
    .WithHttpHealthCheck("/health")
    // Totals stay exact across replicas because /aggregates?source=db reads the rollups every replica adds to.
    .WithReplicas(replicas)
    // Replicas here share a disk and ingest locks its spill directory, so each gets its own.
    .WithSpillDirectoryPerReplica(replicas)
    // Producers outside the environment post events; in Azure Container Apps this is the public ingress.
    .WithExternalHttpEndpoints();

var dashboard = builder.AddProject<Projects.Hermes_Dashboard>("dashboard")
    // Service discovery: the dashboard calls https+http://ingest, which this resolves to ingest's endpoint.
    .WithReference(ingest)
    // Its live feed subscribes to ingest at start; starting earlier would only log connection retries.
    .WaitFor(ingest)
    .WithHttpHealthCheck("/health")
    // People open it in a browser, so it is public like ingest.
    .WithExternalHttpEndpoints();

// Producer and read keys as secret parameters: always in deployments (internet-facing), in local runs only when
// configured (Parameters:api-keys, Parameters:read-api-key), so `dotnet run` works without any.
var deploying = builder.ExecutionContext.IsPublishMode;
if (deploying || builder.Configuration["Parameters:api-keys"] is not null)
{
    ingest.WithEnvironment("API_KEYS", builder.AddParameter("api-keys", secret: true));
}

if (deploying || builder.Configuration["Parameters:read-api-key"] is not null)
{
    var readKey = builder.AddParameter("read-api-key", secret: true);
    // Ingest labels the key "dashboard" in its metrics; the dashboard's server side sends it, the browser never sees it.
    ingest.WithEnvironment("READ_API_KEYS", ReferenceExpression.Create($"dashboard:{readKey}"));
    dashboard.WithEnvironment("INGEST_API_KEY", readKey);

    // The dashboard then shows what that key protects, so it requires sign-in: OpenID Connect (Entra ID or any
    // provider) when Parameters:dashboard-oidc-authority is configured, else an access key typed into its sign-in page.
    if (builder.Configuration["Parameters:dashboard-oidc-authority"] is not null)
    {
        dashboard.WithEnvironment("OIDC_AUTHORITY", builder.AddParameter("dashboard-oidc-authority"))
            .WithEnvironment("OIDC_CLIENT_ID", builder.AddParameter("dashboard-oidc-client-id"));
        if (builder.Configuration["Parameters:dashboard-oidc-client-secret"] is not null)
        {
            dashboard.WithEnvironment("OIDC_CLIENT_SECRET", builder.AddParameter("dashboard-oidc-client-secret", secret: true));
        }
    }
    else
    {
        dashboard.WithEnvironment("DASHBOARD_ACCESS_KEY", builder.AddParameter("dashboard-access-key", secret: true));
    }
}

if (deploying)
{
    // Container Apps ends TLS at its ingress: honour X-Forwarded-Proto, so the sign-in cookie is Secure and OpenID
    // Connect redirects back over https.
    dashboard.WithEnvironment("ASPNETCORE_FORWARDEDHEADERS_ENABLED", "true");
}

var app = builder.Build();
app.LogPostgresSource(postgres, replicas);
app.Run();

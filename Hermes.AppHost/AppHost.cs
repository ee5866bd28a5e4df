using Hermes.AppHost;
using Microsoft.Extensions.Configuration;

// Hermes's full stack: PostgreSQL, ingest and the dashboard, started together and watched by the Aspire dashboard.
var builder = DistributedApplication.CreateBuilder(args);

// Container, local binaries or an external server (Hermes:Postgres:Source); publish output always gets the container.
var postgres = builder.AddHermesPostgres();
var replicas = builder.IngestReplicas();

var ingest = builder.AddProject<Projects.Hermes_Ingest>("ingest")
    // Plain HTTP locally (launch profile http): no certificate to configure, so no "no trusted development
    // certificate" banner in the Aspire dashboard (Aspire shows it for any project it would give one).
    .WithoutHttpsCertificate()
    // Hands ingest ConnectionStrings__hermesdb, which turns its Postgres sink on (it creates its schema itself).
    .WithReference(postgres.Database)
    // The sink migrates its schema at start; waiting on the server (not the connection string) avoids a cold spill.
    .WaitForIfPresent(postgres.Server)
    // Totals stay exact across replicas because /aggregates?source=db reads the rollups every replica adds to.
    .WithReplicas(replicas)
    // Every process here spills into its own directory under one root and replays what a dead one left there.
    .WithSharedSpillRoot()
    // Readiness is also the AppHost's health check (WaitFor): /health turns 503 while ingest drains at shutdown, so
    // it leaves rotation first. Liveness: Container Apps restarts a replica whose /alive stops answering.
    .WithHttpProbe(ProbeType.Readiness, "/health", initialDelaySeconds: 5, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3, endpointName: "http")
    .WithHttpProbe(ProbeType.Liveness, "/alive", initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3, endpointName: "http")
    // Producers outside the environment post events; in Azure Container Apps this is the public ingress.
    .WithExternalHttpEndpoints();

var dashboard = builder.AddProject<Projects.Hermes_Dashboard>("dashboard")
    .WithoutHttpsCertificate()
    // Service discovery: the dashboard calls https+http://ingest, which this resolves to ingest's endpoint.
    .WithReference(ingest)
    // Its live feed subscribes to ingest at start; starting earlier would only log connection retries.
    .WaitFor(ingest)
    .WithHttpProbe(ProbeType.Readiness, "/health", initialDelaySeconds: 5, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3, endpointName: "http")
    .WithHttpProbe(ProbeType.Liveness, "/alive", initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3, endpointName: "http")
    // People open it in a browser, so it is public like ingest.
    .WithExternalHttpEndpoints();

// Producer and read keys as secret parameters: always in deployments (internet-facing), in local runs only when
// configured (Parameters:api-keys, Parameters:read-api-key), so `dotnet run` works without any.
var deploying = builder.ExecutionContext.IsPublishMode;
IResourceBuilder<ParameterResource>? apiKeys = null;
if (deploying || builder.Configuration["Parameters:api-keys"] is not null)
{
    // Generated when no value is given (azd then asks nothing and keeps it in .azure/<env>/config.json), so a
    // deployment never starts with a key ingest refuses.
    apiKeys = builder.AddParameter("api-keys", GeneratedKey(), secret: true).WithDescription(
        "Producer keys for `POST /events`: comma-separated `label:key` or `key`, each key at least 16 printable ASCII "
        + "characters without spaces or commas (the label names it in metrics), for example `mobile:$(openssl rand -hex 24)`. "
        + "Left empty, one key of 32 letters and digits is generated. Producers send a key as `X-Api-Key`.",
        enableMarkdown: true);
    ingest.WithEnvironment("API_KEYS", apiKeys);
}

if (deploying || builder.Configuration["Parameters:read-api-key"] is not null)
{
    // Only the dashboard's server side uses it, so nobody has to choose it: generated when no value is given.
    var readKey = builder.AddParameter("read-api-key", GeneratedKey(), secret: true)
        .WithDescription("Key the Hermes dashboard reads ingest's counts with; generated (32 letters and digits) unless you give one of at least 16 printable ASCII characters.");
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
        // Asked for, not generated: a person types it, so they choose it (azd shows this description).
        var accessKey = builder.AddParameter("dashboard-access-key", secret: true).WithDescription(
            "Key you type on the Hermes dashboard's sign-in page: at least 16 characters, for example the output of "
            + "`openssl rand -hex 24`. Anyone with it can read the counts.", enableMarkdown: true);
        dashboard.WithEnvironment("DASHBOARD_ACCESS_KEY", accessKey);
    }
}

if (deploying)
{
    // Container Apps ends TLS at its ingress: honour X-Forwarded-Proto, so the sign-in cookie is Secure and OpenID
    // Connect redirects back over https.
    dashboard.WithEnvironment("ASPNETCORE_FORWARDEDHEADERS_ENABLED", "true");
}

// A live stack on first run: Hermes.SampleProducer sends a varying mix of the four event types through Hermes.Client.
// Local runs only, never deployed; Hermes:SampleProducer:Enabled=false turns it off.
builder.AddSampleProducer(ingest, apiKeys);

var app = builder.Build();
app.LogPostgresSource(postgres, replicas);
app.Run();

// Letters and digits only: a key may not hold a comma (the list separator), and 32 of them carry ~190 bits.
static GenerateParameterDefault GeneratedKey() => new() { MinLength = 32, Special = false };

using Microsoft.Extensions.Configuration;

namespace Hermes.AppHost;

/// <summary>
/// Ingest spills batches to disk while PostgreSQL is down, and locks its spill directory so two instances never
/// replay each other's data. Replicas started here share one file system (in Azure each container has its own),
/// so each replica gets its own directory under <c>Hermes:SpillDirectory</c>.
/// </summary>
internal static class SpillDirectories
{
    // DCP expands this per replica (Aspire itself uses it for OTEL service.instance.id); the environment callback
    // runs once for all replicas, so a value computed in C# would be shared by all of them.
    private const string ReplicaId = "{{- index .Annotations \"otel-service-instance-id\" -}}";

    public static IResourceBuilder<ProjectResource> WithSpillDirectoryPerReplica(this IResourceBuilder<ProjectResource> ingest, int replicas)
    {
        var builder = ingest.ApplicationBuilder;
        if (!builder.ExecutionContext.IsRunMode)
        {
            return ingest;
        }

        var root = Path.GetFullPath(builder.Configuration["Hermes:SpillDirectory"]
            ?? Path.Combine(Path.GetTempPath(), "hermes-apphost-spill"));

        // One replica keeps one stable directory, so a spill left by a stopped AppHost is replayed by the next start.
        // Replica ids are new each run: with several replicas, a spill left behind is replayed only by pointing
        // SPILL_DIR at it (README, "Full stack").
        return ingest.WithEnvironment("SPILL_DIR", replicas == 1 ? Path.Combine(root, "ingest") : Path.Combine(root, ReplicaId));
    }
}

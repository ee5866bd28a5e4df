using Microsoft.Extensions.Configuration;

namespace Hermes.AppHost;

/// <summary>
/// Ingest spills batches to disk while PostgreSQL is down. Every ingest process started here shares one spill root
/// (<c>Hermes:SpillDirectory</c>, default under <see cref="HermesPostgresExtensions.AppHostDataRoot"/>) with
/// <c>SPILL_SHARED=true</c>: each process spills into a subdirectory of its own and replays the ones no live process
/// holds, so a spill left by a stopped or killed run is replayed by the next, whatever the replica count.
/// </summary>
internal static class SpillDirectories
{
    public static IResourceBuilder<ProjectResource> WithSharedSpillRoot(this IResourceBuilder<ProjectResource> ingest)
    {
        var builder = ingest.ApplicationBuilder;

        // A deployed container has its own file system and no shared volume: its spill stays the default SPILL_DIR
        // (README, "Deploy", says what that guarantees).
        if (!builder.ExecutionContext.IsRunMode)
        {
            return ingest;
        }

        var root = Path.GetFullPath(builder.Configuration["Hermes:SpillDirectory"]
            ?? Path.Combine(builder.AppHostDataRoot(), "spill"));
        return ingest.WithEnvironment("SPILL_DIR", root).WithEnvironment("SPILL_SHARED", "true");
    }
}

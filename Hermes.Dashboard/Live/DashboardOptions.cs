namespace Hermes.Dashboard.Live;

/// <summary>What the dashboard needs to know beyond service discovery.</summary>
public sealed class DashboardOptions
{
    /// <summary>Ingest's address as shown to people (the empty state's curl line); never used for calls.</summary>
    public string IngestUrl { get; init; } = "http://localhost:8080";
}

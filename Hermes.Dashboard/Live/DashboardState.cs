using Hermes.Contracts;
using Hermes.Dashboard.Views;

namespace Hermes.Dashboard.Live;

/// <summary>Whether the dashboard's one upstream subscription to ingest is delivering.</summary>
public enum FeedStatus
{
    /// <summary>Started, no snapshot yet.</summary>
    Connecting,

    /// <summary>Snapshots arriving.</summary>
    Live,

    /// <summary>The stream failed or went quiet; the last known data (if any) is kept and shown greyed.</summary>
    Unreachable,
}

/// <summary>Where the per-minute counts on the page come from.</summary>
public enum CountsSource
{
    /// <summary>The in-memory aggregator of the ingest instance the stream is connected to.</summary>
    Memory,

    /// <summary>PostgreSQL rollups: every ingest replica's events.</summary>
    Database,
}

/// <summary>
/// Everything the page shows, immutable: the feed publishes a new one each second and every circuit renders the
/// same instance, so ten open pages share one parse.
/// </summary>
public sealed record DashboardState
{
    /// <summary>How many events/s samples the sparkline keeps (two minutes at one a second).</summary>
    public const int RateHistoryLength = 120;

    public static readonly DashboardState Initial = new();

    public FeedStatus Status { get; init; } = FeedStatus.Connecting;

    /// <summary>The last snapshot received; kept while unreachable.</summary>
    public StatsSnapshot? Snapshot { get; init; }

    /// <summary>Per-minute counts by type from <see cref="Source"/>.</summary>
    public MinuteCounts Counts { get; init; } = MinuteCounts.Empty;

    public CountsSource Source { get; init; } = CountsSource.Memory;

    /// <summary>Events/s samples, oldest first, at most <see cref="RateHistoryLength"/>.</summary>
    public IReadOnlyList<double> RateHistory { get; init; } = [];

    /// <summary>When the last snapshot arrived, dashboard clock.</summary>
    public DateTimeOffset? LastReceived { get; init; }

    /// <summary>Why the feed is not live (exception message), for the banner.</summary>
    public string? Error { get; init; }

    /// <summary>Ingest's address as the user would type it, for the empty state's curl line.</summary>
    public string IngestUrl { get; init; } = "http://localhost:8080";

    /// <summary>The minute "now" falls in, by ingest's clock when known.</summary>
    public long NowMinute(TimeProvider time) =>
        MinuteCounts.MinuteOf(Snapshot?.Time ?? time.GetUtcNow().ToUnixTimeMilliseconds());

    /// <summary>How far into the current minute "now" is (0–60 s), by ingest's clock when known.</summary>
    public double SecondsIntoMinute(TimeProvider time) =>
        (Snapshot?.Time ?? time.GetUtcNow().ToUnixTimeMilliseconds()) % 60_000 / 1000.0;

    /// <summary>Connected, and ingest has neither accepted nor counted any event.</summary>
    public bool IsEmpty => Status == FeedStatus.Live && Snapshot is { Accepted: 0 } && Counts.IsEmpty;
}

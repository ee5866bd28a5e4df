extern alias Dashboard;

using Bunit;
using Hermes.Contracts;
using Dashboard::Hermes.Dashboard.Components.Overview;
using Dashboard::Hermes.Dashboard.Live;
using Dashboard::Hermes.Dashboard.Views;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Hermes.Tests.Dashboard;

public sealed class DashboardViewTests : IDisposable
{
    private const long NowMs = 1_700_000_070_000; // 22:14:30 UTC
    private const long Minute = 1_700_000_040;

    private readonly BunitContext _context = new();

    public DashboardViewTests() =>
        _context.Services.AddSingleton<TimeProvider>(new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(NowMs)));

    public void Dispose() => _context.Dispose();

    private static StatsSnapshot Snapshot(long accepted = 0, Dictionary<string, long>? aggregates = null, SinkStats? sink = null) => new()
    {
        Time = NowMs,
        Instance = "host:42",
        EventsPerSecond = 12_345.6,
        Accepted = accepted,
        Flushed = accepted,
        Rejected = new() { ["invalid"] = 3, ["queue_full"] = 0 },
        Queue = new() { Length = 250, Capacity = 100_000, OldestAgeSeconds = 0.05 },
        Workers = new() { Count = 8, Busy = 2 },
        Flush = new() { Batches = 10, P50Ms = 0.42, P99Ms = 12.34 },
        Sink = sink ?? new() { Name = "memory" },
        Aggregates = aggregates ?? [],
    };

    private static DashboardState Live(StatsSnapshot snapshot) => DashboardState.Initial with
    {
        Status = FeedStatus.Live,
        Snapshot = snapshot,
        Counts = MinuteCounts.Parse(snapshot.Aggregates),
        RateHistory = [1, 2, 3],
        IngestUrl = "http://ingest.example:8080",
    };

    private IRenderedComponent<DashboardView> Render(DashboardState state) =>
        _context.Render<DashboardView>(p => p.Add(c => c.State, state));

    [Fact]
    public void Numbers_are_shown_formatted()
    {
        var page = Render(Live(Snapshot(accepted: 1_234_567, aggregates: new() { [$"song_played:{Minute}"] = 1_234_567 })));

        Assert.Equal("1,234,567", page.Find("[data-testid=accepted]").TextContent);
        Assert.Equal("12.3k", page.Find("[data-testid=rate]").TextContent);
        Assert.Equal("0.42 ms", page.Find("[data-testid=flush-p50]").TextContent);
        Assert.Equal("12.3 ms", page.Find("[data-testid=flush-p99]").TextContent);
        Assert.Equal("250", page.Find("[data-testid=queue-length]").TextContent);
        Assert.Equal("1,234,567", page.Find("[data-testid=now-song_played]").TextContent);
        Assert.Equal("3", page.Find("[data-testid=rejected-invalid]").TextContent);
        Assert.Empty(page.FindAll("[data-testid=empty-state]"));
        Assert.Empty(page.FindAll("[data-testid=unreachable-banner]"));
    }

    [Fact]
    public void No_events_yet_shows_a_copyable_curl_line_to_ingest()
    {
        var page = Render(Live(Snapshot(accepted: 0)));

        var curl = page.Find("[data-testid=curl]").TextContent;
        Assert.StartsWith("curl -X POST http://ingest.example:8080/events ", curl, StringComparison.Ordinal);
        Assert.Contains("\"type\":\"song_played\"", curl, StringComparison.Ordinal);
        Assert.Contains("$(date +%s)", curl, StringComparison.Ordinal);
        Assert.NotNull(page.Find("[data-testid=empty-state] button"));
    }

    [Fact]
    public void Unreachable_ingest_shows_the_banner_and_greys_the_last_data()
    {
        var last = Live(Snapshot(accepted: 42, aggregates: new() { [$"ad_clicked:{Minute}"] = 42 }));

        var page = Render(last with { Status = FeedStatus.Unreachable, Error = "Connection refused" });

        var banner = page.Find("[data-testid=unreachable-banner]");
        Assert.Contains("Ingest is unreachable", banner.TextContent, StringComparison.Ordinal);
        Assert.Contains("Connection refused", banner.TextContent, StringComparison.Ordinal);
        Assert.Contains("stale", page.Find("[data-testid=content]").ClassList);
        Assert.Equal("42", page.Find("[data-testid=accepted]").TextContent);
        Assert.Contains("unreachable", page.Find("[data-testid=status-pill]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void Recovery_removes_the_banner_and_the_grey()
    {
        var state = Live(Snapshot(accepted: 1));
        var page = Render(state with { Status = FeedStatus.Unreachable });

        page.Render(p => p.Add(c => c.State, state));

        Assert.Empty(page.FindAll("[data-testid=unreachable-banner]"));
        Assert.DoesNotContain("stale", page.Find("[data-testid=content]").ClassList);
    }

    [Fact]
    public void The_chart_has_one_legend_entry_and_colour_per_type()
    {
        var page = Render(Live(Snapshot(accepted: 5, aggregates: new()
        {
            [$"ad_clicked:{Minute}"] = 2,
            [$"song_played:{Minute}"] = 3,
        })));

        var legend = page.FindAll("[data-testid=legend] li").Select(li => li.TextContent).ToList();
        Assert.Equal(2, legend.Count);
        Assert.StartsWith("ad_clicked", legend[0], StringComparison.Ordinal);
        Assert.StartsWith("song_played", legend[1], StringComparison.Ordinal);
        Assert.Equal(["s0", "s1"], page.FindAll("[data-testid=chart] rect:not(.pace)").Select(r => r.ClassName));

        // 30 s into the minute, 5 events are on pace for 10.
        Assert.Equal("this minute so far: 5; at this pace 10", page.Find("[data-testid=pace] title").TextContent);
    }

    [Fact]
    public void Legend_and_table_total_the_same_minutes_and_follow_the_window_toggle()
    {
        var page = Render(Live(Snapshot(accepted: 12, aggregates: new()
        {
            [$"song_played:{Minute}"] = 5,
            [$"song_played:{Minute - (30 * 60)}"] = 7,
        })));

        Assert.Equal("15 min", page.Find("[data-testid=total-heading]").TextContent);
        Assert.Equal("5", page.Find("[data-testid=legend-total-song_played]").TextContent);
        Assert.Equal("5", page.Find("[data-testid=total-song_played]").TextContent);

        page.Find("[data-testid=window-60]").Click();

        Assert.Equal("60 min", page.Find("[data-testid=total-heading]").TextContent);
        Assert.Equal("12", page.Find("[data-testid=legend-total-song_played]").TextContent);
        Assert.Equal("12", page.Find("[data-testid=total-song_played]").TextContent);
    }

    [Fact]
    public void The_aggregates_table_says_how_many_rows_it_hides_and_shows_more_on_request()
    {
        string[] types = ["ad_clicked", "location_update", "song_played", "trip_started"];
        var aggregates = types.SelectMany(t => Enumerable.Range(0, 15).Select(m => ($"{t}:{Minute - (m * 60L)}", 1L))).ToDictionary();
        var page = Render(Live(Snapshot(accepted: 60, aggregates: aggregates)));

        Assert.Equal(20, page.FindAll("[data-testid=aggregates] tbody tr").Count);
        Assert.Contains("Showing 20 of 60 rows.", page.Find("[data-testid=rows-shown]").TextContent, StringComparison.Ordinal);

        page.Find("[data-testid=show-more]").Click();
        page.Find("[data-testid=show-more]").Click();

        Assert.Equal(60, page.FindAll("[data-testid=aggregates] tbody tr").Count);
        Assert.Contains("All 60 rows.", page.Find("[data-testid=rows-shown]").TextContent, StringComparison.Ordinal);
        Assert.Empty(page.FindAll("[data-testid=show-more]"));
    }

    [Fact]
    public void The_postgres_sink_shows_breaker_state_and_spill_size()
    {
        var sink = new SinkStats { Name = "postgres", Durable = true, Circuit = "open", SpillBytes = 3 * 1024 * 1024, SpillEvents = 900, Dropped = 4, DeadLetters = 1 };

        var page = Render(Live(Snapshot(accepted: 1, sink: sink)) with { Source = CountsSource.Database });

        Assert.Equal("breaker open", page.Find("[data-testid=circuit]").TextContent);
        Assert.Equal("3 MiB", page.Find("[data-testid=spill]").TextContent);
        Assert.Equal("4", page.Find("[data-testid=dropped]").TextContent);
        Assert.Contains("PostgreSQL", page.Find("[data-testid=source]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void The_memory_sink_has_no_breaker_tile_and_says_counts_are_in_memory()
    {
        var page = Render(Live(Snapshot(accepted: 1)));

        Assert.Empty(page.FindAll("[data-testid=sink-tile]"));
        Assert.Contains("in-memory", page.Find("[data-testid=source]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void The_table_filters_by_type_and_the_csv_link_follows_the_filter()
    {
        var page = Render(Live(Snapshot(accepted: 3, aggregates: new()
        {
            [$"ad_clicked:{Minute}"] = 1,
            [$"song_played:{Minute}"] = 2,
            [$"song_played:{Minute - 600}"] = 4,
        })));
        Assert.Equal(3, page.FindAll("[data-testid=aggregates] tbody tr").Count);

        page.Find("[data-testid=filter-type]").Change("song_played");
        page.Find("[data-testid=filter-range]").Change("5");

        var rows = page.FindAll("[data-testid=aggregates] tbody tr");
        Assert.Single(rows);
        Assert.Contains("song_played", rows[0].TextContent, StringComparison.Ordinal);
        Assert.Equal("export/aggregates.csv?minutes=5&type=song_played", page.Find("[data-testid=csv]").GetAttribute("href"));
    }
}

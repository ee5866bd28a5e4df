extern alias Dashboard;

using Dashboard::Hermes.Dashboard.Live;
using Hermes.Tests.Browser;
using Hermes.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Hermes.Tests.Dashboard;

/// <summary>Ingest with READ_API_KEYS: the dashboard's server side authenticates its one upstream stream.</summary>
public sealed class DashboardReadKeyTests
{
    private const string ReadKey = "dashboard-read-0123456789abcdef";

    [Theory]
    [InlineData(ReadKey, FeedStatus.Live)]
    [InlineData(null, FeedStatus.Unreachable)]
    public async Task Dashboard_reaches_a_protected_ingest_only_with_its_read_key(string? key, FeedStatus expected)
    {
        await using var ingest = new HermesFactory(new() { ["READ_API_KEYS"] = $"dashboard:{ReadKey}" });
        var ingestClient = ingest.Start();
        // A dashboard holding a read key requires sign-in, so it needs an access key too.
        await using var dashboard = new DashboardHost(ingestClient.BaseAddress!.ToString().TrimEnd('/'), key,
            new() { ["DASHBOARD_ACCESS_KEY"] = "dashboard-access-0123456789abcdef" });
        dashboard.Start();
        var feed = dashboard.Services.GetRequiredService<LiveFeed>();

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (feed.Current.Status != expected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        Assert.Equal(expected, feed.Current.Status);
        if (expected == FeedStatus.Unreachable)
        {
            // The banner says why, and what to set.
            Assert.Contains("INGEST_API_KEY", feed.Current.Error);
        }
    }
}

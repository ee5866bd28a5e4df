using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Integration;

public sealed partial class ObservabilityTests
{
    /// <summary>
    /// Runs Hermes as its own process: instruments are process-wide, and a MeterListener in a test process full of
    /// hosts would see every host's "Hermes" meter. Production has one host per process, as here.
    /// </summary>
    [Fact]
    public async Task Metrics_endpoint_exposes_the_pipeline_in_prometheus_text()
    {
        await using var hermes = HermesProcess.Start(new() { ["QUEUE_SIZE"] = "1234", ["WORKER_COUNT"] = "1" });
        await hermes.WaitUntilAliveAsync(TimeSpan.FromSeconds(30));
        var client = hermes.Client;
        await client.PostAsync("/events/batch", Events.Array([Events.Json("m-1"), Events.Json("m-2"), Events.Json("m-3", type: "x")]), TestContext.Current.CancellationToken);
        await client.PostAsync("/events", Events.Body("{"), TestContext.Current.CancellationToken);

        var text = await Events.Eventually(
            () => client.GetStringAsync("/metrics"),
            t => Value(t, "hermes_events_flushed_total") == 2);

        Assert.True(Value(text, "hermes_events_flushed_total") == 2, text);
        Assert.Contains("text/plain", (await client.GetAsync("/metrics", TestContext.Current.CancellationToken)).Content.Headers.ContentType?.ToString());
        Assert.Equal(2, Value(text, "hermes_events_accepted_total"));
        Assert.Equal(1, Value(text, "hermes_events_rejected_total", "reason=\"invalid\""));
        Assert.Equal(1, Value(text, "hermes_events_rejected_total", "reason=\"malformed\""));
        Assert.Equal(1234, Value(text, "hermes_queue_capacity"));
        Assert.Equal(0, Value(text, "hermes_queue_length"));
        Assert.Equal(0, Value(text, "hermes_workers_busy"));
        Assert.NotNull(Value(text, "hermes_queue_oldest_age_seconds"));
        Assert.Contains("# TYPE hermes_batch_size histogram", text);
        Assert.Contains("# TYPE hermes_flush_duration_seconds histogram", text);
        Assert.Equal(1, Value(text, "hermes_batch_size_count"));
        Assert.Equal(2, Value(text, "hermes_batch_size_sum"));
        Assert.NotNull(Value(text, "http_server_request_duration_seconds_count"));
    }

    [Theory]
    [InlineData("/debug/trace")]
    [InlineData("/debug/dump")]
    [InlineData("/debug/counters")]
    public async Task Debug_endpoints_are_closed_by_default(string path)
    {
        await using var hermes = new HermesFactory();
        var client = hermes.Start();

        var response = await client.GetAsync(path, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Debug_counters_report_runtime_figures_when_enabled()
    {
        await using var hermes = new HermesFactory(new() { ["DEBUG_ENDPOINTS"] = "true", ["ADMIN_API_KEYS"] = "ops:" + AdminKey });
        var client = hermes.Start();
        client.DefaultRequestHeaders.Add("X-Api-Key", AdminKey);

        var response = await client.GetAsync("/debug/counters?seconds=0.2", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await response.ReadJsonAsync();
        Assert.True(json.GetProperty("workingSetBytes").GetInt64() > 0);
        Assert.True(json.GetProperty("allocatedBytesPerSecond").GetDouble() >= 0);
        Assert.True(json.GetProperty("threadPoolThreads").GetInt32() > 0);
        Assert.True(json.TryGetProperty("lockContentionsPerSecond", out _));
        Assert.True(json.TryGetProperty("gen0CollectionsPerSecond", out _));
    }

    [Fact]
    public async Task Debug_trace_returns_a_nettrace_of_the_requested_length()
    {
        await using var hermes = new HermesFactory(new() { ["DEBUG_ENDPOINTS"] = "true", ["ADMIN_API_KEYS"] = "ops:" + AdminKey });
        var client = hermes.Start();
        client.DefaultRequestHeaders.Add("X-Api-Key", AdminKey);

        var response = await client.GetAsync("/debug/trace?seconds=1", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var bytes = await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken);
        Assert.True(bytes.Length > 1000, $"trace is only {bytes.Length} bytes");
        Assert.Equal("Nettrace", Encoding.ASCII.GetString(bytes, 0, 8));
        Assert.Contains(".nettrace", response.Content.Headers.ContentDisposition?.ToString());
    }

    [Fact]
    public async Task Debug_dump_returns_a_process_dump()
    {
        await using var hermes = new HermesFactory(new() { ["DEBUG_ENDPOINTS"] = "true", ["ADMIN_API_KEYS"] = "ops:" + AdminKey });
        var client = hermes.Start();
        client.DefaultRequestHeaders.Add("X-Api-Key", AdminKey);

        var response = await client.GetAsync("/debug/dump", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var bytes = await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken);
        Assert.Equal([0x7F, (byte)'E', (byte)'L', (byte)'F'], bytes[..4]);
    }

    [Fact]
    public async Task OpenApi_document_describes_the_ingest_api()
    {
        await using var hermes = new HermesFactory();
        var client = hermes.Start();

        var json = await (await client.GetAsync("/openapi/v1.json", TestContext.Current.CancellationToken)).ReadJsonAsync();

        var paths = json.GetProperty("paths");
        Assert.True(paths.GetProperty("/events").TryGetProperty("post", out var post));
        Assert.True(post.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _));
        foreach (var status in new[] { "200", "202", "400", "401", "408", "413", "415", "429", "503" })
        {
            Assert.True(post.GetProperty("responses").TryGetProperty(status, out _), $"POST /events does not document {status}");
        }

        Assert.True(paths.GetProperty("/events/batch").GetProperty("post").GetProperty("requestBody").GetProperty("content").TryGetProperty("application/x-ndjson", out _));
        Assert.True(paths.GetProperty("/aggregates").TryGetProperty("get", out _));
        Assert.False(paths.TryGetProperty("/debug/trace", out _));
    }

    private const string AdminKey = "admin-0123456789abcdef";

    private static double? Value(string text, string name, string? label = null)
    {
        foreach (Match match in MetricLine().Matches(text))
        {
            if (match.Groups["name"].Value == name && (label is null || match.Groups["labels"].Value.Contains(label, StringComparison.Ordinal)))
            {
                return double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    [GeneratedRegex(@"^(?<name>[a-z_]+)(\{(?<labels>[^}]*)\})? (?<value>[0-9.eE+-]+)", RegexOptions.Multiline)]
    private static partial Regex MetricLine();
}

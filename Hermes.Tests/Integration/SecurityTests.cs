using System.Net;
using System.Net.Http.Headers;
using Hermes.Ingest.Telemetry;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Integration;

public sealed class SecurityTests
{
    private const string Mobile = "mobile-0123456789abcdef";
    private const string Web = "web-fedcba9876543210";
    private const string Reader = "reader-00112233445566778899";
    private const string Admin = "admin-aabbccddeeff00112233";

    private static Dictionary<string, string?> Keys(Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["API_KEYS"] = $"mobile:{Mobile},{Web}",
            ["READ_API_KEYS"] = Reader,
            ["ADMIN_API_KEYS"] = $"ops:{Admin}",
        };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        return settings;
    }

    private static HttpRequestMessage Post(string path, HttpContent body, string? key = null, bool bearer = false)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = body };
        if (key is not null && bearer)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        else if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }

        return request;
    }

    private static HttpRequestMessage Get(string path, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }

        return request;
    }

    [Fact]
    public async Task Without_keys_configured_producers_need_none()
    {
        await using var hermes = new HermesFactory();
        var client = hermes.Start();

        var response = await client.SendAsync(Post("/events", Events.Body(Events.Json("open-1"))), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(1, hermes.Service<IngestMetrics>().KeyAccepted(IngestMetrics.AnonymousKey));
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("wrong-key-0123456789abcdef", false)]
    [InlineData(Reader, false)]
    [InlineData("", true)]
    public async Task Missing_or_wrong_producer_key_gets_401_and_nothing_is_queued(string? key, bool bearer)
    {
        await using var hermes = new HermesFactory(Keys());
        var client = hermes.Start();

        var response = await client.SendAsync(Post("/events/batch", Events.Array([Events.Json("k-1")]), key, bearer), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("Bearer", response.Headers.WwwAuthenticate.ToString());
        var problem = await response.ReadJsonAsync();
        Assert.Equal("api-key", problem.GetProperty("rule").GetString());
        Assert.DoesNotContain(Mobile, problem.ToString());
        Assert.Equal(0, hermes.Service<IngestMetrics>().Accepted);
        Assert.Equal(1, hermes.Service<IngestMetrics>().Rejected(RejectReason.Unauthorized));
    }

    [Fact]
    public async Task Valid_keys_are_accepted_in_either_header_and_counted_by_label()
    {
        await using var hermes = new HermesFactory(Keys());
        var client = hermes.Start();

        var viaHeader = await client.SendAsync(Post("/events", Events.Body(Events.Json("k-2")), Mobile), TestContext.Current.CancellationToken);
        var viaBearer = await client.SendAsync(Post("/events/batch", Events.Array([Events.Json("k-3"), Events.Json("k-4")]), Web, bearer: true), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, viaHeader.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, viaBearer.StatusCode);
        var metrics = hermes.Service<IngestMetrics>();
        Assert.Equal(1, metrics.KeyAccepted("mobile"));
        Assert.Equal(2, metrics.KeyAccepted("producer-2"));
    }

    [Theory]
    [InlineData("/aggregates")]
    [InlineData("/stats")]
    public async Task Read_endpoints_need_a_read_or_admin_key_when_read_keys_are_set(string path)
    {
        await using var hermes = new HermesFactory(Keys());
        var client = hermes.Start();

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Get(path, null), TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Get(path, Mobile), TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Get(path, Reader), TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Get(path, Admin), TestContext.Current.CancellationToken)).StatusCode);
    }

    [Theory]
    [InlineData("/health")]
    [InlineData("/alive")]
    [InlineData("/metrics")]
    public async Task Probes_and_scrapers_need_no_key(string path)
    {
        await using var hermes = new HermesFactory(Keys());
        var client = hermes.Start();

        var response = await client.SendAsync(Get(path, null), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Debug_endpoints_need_the_admin_key()
    {
        await using var hermes = new HermesFactory(Keys(new() { ["DEBUG_ENDPOINTS"] = "true" }));
        var client = hermes.Start();

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Get("/debug/counters?seconds=0.1", null), TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Get("/debug/counters?seconds=0.1", Reader), TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Get("/debug/counters?seconds=0.1", Admin), TestContext.Current.CancellationToken)).StatusCode);
    }

    [Fact]
    public async Task Rate_limit_applies_per_key_and_one_noisy_key_does_not_slow_another()
    {
        await using var hermes = new HermesFactory(Keys(new() { ["RATE_LIMIT_PER_KEY"] = "10", ["RATE_LIMIT_BURST"] = "50" }));
        var client = hermes.Start();
        var fifty = Enumerable.Range(0, 50).Select(i => Events.Json($"r-{i}")).ToList();

        var first = await client.SendAsync(Post("/events/batch", Events.Array(fifty), Mobile), TestContext.Current.CancellationToken);
        var second = await client.SendAsync(Post("/events/batch", Events.Array(fifty), Mobile), TestContext.Current.CancellationToken);
        var otherKey = await client.SendAsync(Post("/events/batch", Events.Array(fifty), Web), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal((HttpStatusCode)429, second.StatusCode);
        Assert.InRange(second.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 60);
        Assert.Equal(HttpStatusCode.Accepted, otherKey.StatusCode);
        var metrics = hermes.Service<IngestMetrics>();
        Assert.Equal(50, metrics.KeyRateLimited("mobile"));
        Assert.Equal(100, metrics.Accepted);
    }

    [Theory]
    [InlineData(4, 4, 3.0)]
    [InlineData(0.5, 1, 4.5)]
    public async Task A_producer_posting_as_fast_as_it_can_gets_the_burst_plus_the_configured_rate(double rate, int burst, double seconds)
    {
        await using var hermes = new HermesFactory(Keys(new() { ["RATE_LIMIT_PER_KEY"] = rate.ToString(System.Globalization.CultureInfo.InvariantCulture) }));
        var client = hermes.Start();

        // Warm the request path up under another key, so the first timed request is not also the JIT's.
        Assert.Equal(HttpStatusCode.Accepted, (await client.SendAsync(Post("/events", Events.Body(Events.Json("warm-up")), Web), TestContext.Current.CancellationToken)).StatusCode);

        // Act: one producer posting single events back to back over real HTTP.
        var accepted = 0;
        var limited = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; clock.Elapsed.TotalSeconds < seconds; i++)
        {
            using var response = await client.SendAsync(Post("/events", Events.Body(Events.Json($"rate-{i}")), Mobile), TestContext.Current.CancellationToken);
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                accepted++;
            }
            else
            {
                Assert.Equal((HttpStatusCode)429, response.StatusCode);
                limited++;
            }
        }

        var elapsed = clock.Elapsed.TotalSeconds;

        // Assert: the burst (RATE_LIMIT_BURST defaults to one second's worth), then `rate` a second. The server's
        // first and last acquisitions fall inside the client's window, up to 0.5 s of request latency at either end.
        Assert.InRange(accepted, burst + (int)Math.Floor(rate * (elapsed - 0.5)), burst + (int)Math.Floor(rate * elapsed));
        Assert.True(limited > 0, "the producer never hit the limit, so the test measured nothing");
        Assert.Equal(accepted, hermes.Service<IngestMetrics>().KeyAccepted("mobile"));
    }

    [Fact]
    public async Task Batch_larger_than_the_burst_is_refused_with_429_saying_so()
    {
        await using var hermes = new HermesFactory(Keys(new() { ["RATE_LIMIT_PER_KEY"] = "1000", ["RATE_LIMIT_BURST"] = "10" }));
        var client = hermes.Start();

        var response = await client.SendAsync(Post("/events/batch", Events.Array(Enumerable.Range(0, 11).Select(i => Events.Json($"b-{i}"))), Mobile), TestContext.Current.CancellationToken);

        Assert.Equal((HttpStatusCode)429, response.StatusCode);
        Assert.Contains("RATE_LIMIT_BURST", (await response.ReadJsonAsync()).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Keys_never_appear_in_logs_and_an_open_listener_is_warned_about()
    {
        await using (var keyed = HermesProcess.Start(new() { ["API_KEYS"] = $"mobile:{Mobile}", ["HTTP_ADDR"] = "0.0.0.0:" + Ports.Free() }))
        {
            await keyed.WaitUntilAliveAsync(TimeSpan.FromSeconds(30));
            await keyed.Client.SendAsync(Post("/events", Events.Body(Events.Json("log-1")), "not-the-key-0123456789"), TestContext.Current.CancellationToken);
            keyed.Signal(HermesProcess.SIGTERM);
            await keyed.WaitForExitAsync(TimeSpan.FromSeconds(20));
            Assert.DoesNotContain(Mobile, keyed.StandardOutput + keyed.StandardError);
            Assert.DoesNotContain("No API_KEYS", keyed.StandardOutput);
        }

        var port = Ports.Free();
        await using var open = HermesProcess.Start(new() { ["HTTP_ADDR"] = $"0.0.0.0:{port}" });
        await open.WaitUntilAliveAsync(TimeSpan.FromSeconds(30));
        open.Signal(HermesProcess.SIGTERM);
        await open.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.Contains("No API_KEYS are set", open.StandardOutput);
    }

    [Fact]
    public async Task A_bad_key_setting_is_refused_without_echoing_the_secret()
    {
        await using var hermes = HermesProcess.Start(new() { ["API_KEYS"] = "short-secret" });

        var exitCode = await hermes.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(2, exitCode);
        Assert.Contains("API_KEYS=(redacted) is invalid", hermes.StandardError);
        Assert.DoesNotContain("short-secret", hermes.StandardError);
    }

    [Fact]
    public async Task Debug_endpoints_without_an_admin_key_refuse_to_start()
    {
        await using var hermes = HermesProcess.Start(new() { ["DEBUG_ENDPOINTS"] = "true" });

        var exitCode = await hermes.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(2, exitCode);
        Assert.Contains("DEBUG_ENDPOINTS=true is invalid", hermes.StandardError);
        Assert.Contains("ADMIN_API_KEYS", hermes.StandardError);
    }
}

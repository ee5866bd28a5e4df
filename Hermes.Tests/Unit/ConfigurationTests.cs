using Hermes.Ingest.Configuration;
using Microsoft.Extensions.Configuration;

namespace Hermes.Tests.Unit;

public sealed class ConfigurationTests
{
    private static IngestOptions Load(params (string Key, string Value)[] settings) =>
        IngestOptionsLoader.Load(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build());

    [Theory]
    [InlineData("100ms", 100)]
    [InlineData("1s", 1000)]
    [InlineData("1.5s", 1500)]
    [InlineData("1m30s", 90_000)]
    [InlineData("2h", 7_200_000)]
    [InlineData("250us", 0.25)]
    [InlineData("0", 0)]
    [InlineData("00:00:02", 2000)]
    [InlineData("30d", 2_592_000_000)]
    public void Go_durations_parse(string text, double milliseconds)
    {
        Assert.True(GoDuration.TryParse(text, out var value));
        Assert.Equal(milliseconds, value.TotalMilliseconds);
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("s")]
    [InlineData("10 seconds")]
    [InlineData("1y")]
    [InlineData("abc")]
    public void Non_durations_do_not_parse(string text) => Assert.False(GoDuration.TryParse(text, out _));

    [Fact]
    public void Defaults_follow_the_seed_but_for_workers_and_batch_size_which_postgres_measured()
    {
        var options = Load();

        Assert.Equal(100_000, options.QueueSize);
        Assert.Equal(Environment.ProcessorCount * 2, options.WorkerCount);
        Assert.Equal(10_000, options.BatchSize);
        Assert.Equal(TimeSpan.FromMilliseconds(100), options.FlushInterval);
        Assert.Equal(TimeSpan.FromSeconds(30), options.ShutdownTimeout);
        Assert.Equal(100, options.MaxOpenConns);
        Assert.Equal(BackpressureMode.Strict, options.BackpressureMode);
        Assert.Null(options.DbDsn);
        Assert.Equal(["trip_started", "song_played", "ad_clicked", "location_update"], options.EventTypes);
    }

    [Fact]
    public void Seed_environment_names_and_dotnet_keys_both_bind_and_the_seed_name_wins()
    {
        var options = Load(
            ("QUEUE_SIZE", "500"),
            ("Hermes:Ingest:QueueSize", "900"),
            ("Hermes:Ingest:BatchSize", "250"),
            ("FLUSH_INTERVAL", "1m30s"),
            ("BACKPRESSURE_MODE", "BLOCK"),
            ("HTTP_ADDR", ":9090"),
            ("EVENT_TYPES", "a, b ,c"));

        Assert.Equal(500, options.QueueSize);
        Assert.Equal(250, options.BatchSize);
        Assert.Equal(TimeSpan.FromSeconds(90), options.FlushInterval);
        Assert.Equal(BackpressureMode.Block, options.BackpressureMode);
        Assert.Equal("http://*:9090", options.HttpAddress);
        Assert.Equal(["a", "b", "c"], options.EventTypes);
    }

    [Theory]
    [InlineData("127.0.0.1:8080", "http://127.0.0.1:8080")]
    [InlineData("0.0.0.0:80", "http://*:80")]
    [InlineData("[::1]:8080", "http://[::1]:8080")]
    [InlineData("hermes.internal:8080", "http://hermes.internal:8080")]
    public void Listen_addresses_in_the_seed_form_become_urls(string address, string url) =>
        Assert.Equal(url, Load(("HTTP_ADDR", address)).HttpAddress);

    [Theory]
    [InlineData("QUEUE_SIZE", "abc")]
    [InlineData("QUEUE_SIZE", "0")]
    [InlineData("WORKER_COUNT", "-2")]
    [InlineData("BATCH_SIZE", "1e3")]
    [InlineData("FLUSH_INTERVAL", "-5s")]
    [InlineData("FLUSH_INTERVAL", "0s")]
    [InlineData("SHUTDOWN_TIMEOUT", "forever")]
    [InlineData("BACKPRESSURE_MODE", "sometimes")]
    [InlineData("HTTP_ADDR", "8080")]
    [InlineData("HTTP_ADDR", ":99999")]
    [InlineData("MAX_OPEN_CONNS", "many")]
    [InlineData("EVENT_TYPES", "a,a")]
    [InlineData("EVENT_TYPES", "has space")]
    [InlineData("DEBUG_ENDPOINTS", "maybe")]
    public void Bad_values_are_refused_naming_the_setting_and_value(string name, string value)
    {
        var error = Assert.Throws<InvalidSettingException>(() => Load((name, value)));

        var problem = Assert.Single(error.Problems);
        Assert.StartsWith($"{name}={value} is invalid: ", problem);
    }

    [Fact]
    public void Batch_cap_above_the_queue_size_is_refused_when_set_and_lowered_when_defaulted()
    {
        var error = Assert.Throws<InvalidSettingException>(() => Load(("QUEUE_SIZE", "500"), ("MAX_BATCH_EVENTS", "1000")));
        Assert.StartsWith("MAX_BATCH_EVENTS=1000 is invalid: must not exceed QUEUE_SIZE (500)", Assert.Single(error.Problems));

        Assert.Equal(500, Load(("QUEUE_SIZE", "500")).MaxBatchEvents);
    }
}

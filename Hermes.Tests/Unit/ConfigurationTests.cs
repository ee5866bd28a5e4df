using Hermes.Ingest.Configuration;
using Hermes.Ingest.Sinks.Postgres;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Unit;

public sealed class ConfigurationTests
{
    private static IngestOptions Load(params (string Key, string Value)[] settings) => IngestOptionsLoader.Load(Settings.Of(settings));

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

    [Fact]
    public void A_value_that_does_not_parse_is_told_the_range_its_property_declares() =>
        Assert.Equal(
            "QUEUE_SIZE=abc is invalid: expected a whole number between 1 and 100000000.",
            Assert.Single(Assert.Throws<InvalidSettingException>(() => Load(("QUEUE_SIZE", "abc"))).Problems));

    [Fact]
    public void Every_bad_value_is_reported_at_once_whether_it_does_not_parse_or_breaks_a_property_rule()
    {
        var error = Assert.Throws<InvalidSettingException>(() => Load(
            ("QUEUE_SIZE", "lots"),
            ("Hermes:Ingest:BatchSize", "0"),
            ("FLUSH_INTERVAL", "0s"),
            ("EVENT_TYPES", "a,a"),
            ("MIN_REQUEST_BODY_GRACE", "1s"),
            ("RATE_LIMIT_PER_KEY", "-1"),
            ("API_KEYS", "short")));

        string[] expected =
            [
                "QUEUE_SIZE=lots is invalid: expected a whole number between 1 and 100000000.",
                "Hermes:Ingest:BatchSize=0 is invalid: must be between 1 and 1000000.",
                "FLUSH_INTERVAL=0s is invalid: must be greater than zero.",
                "EVENT_TYPES=a,a is invalid: event types must be distinct.",
                "MIN_REQUEST_BODY_GRACE=1s is invalid: must be more than 1000ms.",
                "RATE_LIMIT_PER_KEY=-1 is invalid: " + EventRateAttribute.Rule + ".",
                "API_KEYS=(redacted) is invalid: each key must be at least 16 printable ASCII characters without spaces (generate one with: openssl rand -hex 24).",
            ];
        Assert.Equal(expected.Order(StringComparer.Ordinal), error.Problems.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_rule_between_two_settings_stays_quiet_while_one_of_them_is_invalid_on_its_own()
    {
        var error = Assert.Throws<InvalidSettingException>(() => Load(("QUEUE_SIZE", "0"), ("MAX_BATCH_EVENTS", "5")));

        Assert.Equal("QUEUE_SIZE=0 is invalid: must be between 1 and 100000000.", Assert.Single(error.Problems));
    }

    [Fact]
    public void Debug_endpoints_without_admin_keys_are_refused_by_the_cross_field_rules()
    {
        var error = Assert.Throws<InvalidSettingException>(() => Load(("DEBUG_ENDPOINTS", "true")));

        Assert.StartsWith("DEBUG_ENDPOINTS=true is invalid: /debug/* exposes process memory, so it needs ADMIN_API_KEYS", Assert.Single(error.Problems));
        Assert.True(Load(("DEBUG_ENDPOINTS", "true"), ("ADMIN_API_KEYS", "admin:0123456789abcdef")).DebugEndpoints);
    }

    [Fact]
    public void The_burst_defaults_to_one_seconds_worth_of_the_rate_and_an_explicit_zero_is_refused()
    {
        Assert.Equal(3, Load(("RATE_LIMIT_PER_KEY", "2.5")).RateLimitBurst);
        Assert.Equal(1, Load(("RATE_LIMIT_PER_KEY", "0.5")).RateLimitBurst);
        Assert.StartsWith("RATE_LIMIT_BURST=0 is invalid: must be between 1 and 100000000", Assert.Single(
            Assert.Throws<InvalidSettingException>(() => Load(("RATE_LIMIT_PER_KEY", "5"), ("RATE_LIMIT_BURST", "0"))).Problems));
    }

    [Fact]
    public void The_options_classes_defaults_pass_their_own_validators()
    {
        Assert.True(new IngestOptionsValidator().Validate(null, new IngestOptions()).Succeeded);
        Assert.True(new IngestOptionsRules().Validate(null, new IngestOptions()).Succeeded);
        Assert.True(new PostgresSinkOptionsValidator().Validate(null, new PostgresSinkOptions()).Succeeded);
        Assert.True(new PostgresSinkOptionsRules().Validate(null, new PostgresSinkOptions()).Succeeded);
    }

    [Fact]
    public void The_generated_validator_checks_the_attribute_beside_each_property()
    {
        var result = new IngestOptionsValidator().Validate(null, new IngestOptions
        {
            QueueSize = 0,
            BlockTimeout = TimeSpan.Zero,
            EventRetention = TimeSpan.FromMinutes(30),
            EventTypes = [],
            ReadApiKeys = ["bad label!:0123456789abcdef"],
        });

        Assert.Equal(
            [
                "QueueSize: The field IngestOptions.QueueSize must be between 1 and 100000000.",
                "BlockTimeout: must be greater than zero",
                "EventTypes: expected a comma-separated list of event types",
                "EventRetention: must be 0 (keep everything) or at least 1h",
                "ReadApiKeys: a key's label (before ':') must be 1-32 letters, digits, '_' or '-'",
            ],
            result.Failures!);
    }

    [Fact]
    public void Sink_settings_are_checked_by_their_attributes_and_reported_with_the_engine_settings_names()
    {
        var configuration = Settings.Of(
            ("DB_DSN", "Host=localhost;Database=hermes"),
            ("DB_BREAKER_FAILURES", "1"),
            ("Hermes:Postgres:BreakerBreak", "100ms"),
            ("DB_WRITE_TIMEOUT", "forever"),
            ("SPILL_MAX_BYTES", "1024"),
            ("SPILL_SEGMENT_BYTES", "2147483648"),
            ("PARTITION_INTERVAL", "5h"),
            ("ROLLUP_RETENTION", "20m"));

        var error = Assert.Throws<InvalidSettingException>(() => PostgresSinkOptionsLoader.Load(configuration, IngestOptionsLoader.Load(configuration)));

        Assert.Equal(
            [
                "DB_WRITE_TIMEOUT=forever is invalid: expected a duration such as 100ms, 1s or 1m30s.",
                "DB_BREAKER_FAILURES=1 is invalid: must be between 2 and 1000000.",
                "Hermes:Postgres:BreakerBreak=100ms is invalid: must be at least 500ms.",
                "SPILL_MAX_BYTES=1024 is invalid: must be between 1048576 and 9223372036854775807.",
                "SPILL_SEGMENT_BYTES=2147483648 is invalid: must be between 65536 and 1073741824.",
                "PARTITION_INTERVAL=5h is invalid: must be 1h, 2h, 3h, 4h, 6h, 8h or 12h, or a whole number of days up to 366d.",
                "ROLLUP_RETENTION=20m is invalid: must be 0 (keep everything) or at least 1h.",
            ],
            error.Problems);
    }
}

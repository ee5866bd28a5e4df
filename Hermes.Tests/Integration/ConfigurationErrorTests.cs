using Hermes.Ingest.Configuration;
using Hermes.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Hermes.Tests.Integration;

public sealed class ConfigurationErrorTests
{
    [Theory]
    [InlineData("QUEUE_SIZE", "abc")]
    [InlineData("BACKPRESSURE_MODE", "sometimes")]
    [InlineData("FLUSH_INTERVAL", "-5s")]
    [InlineData("WORKER_COUNT", "0")]
    [InlineData("HTTP_ADDR", "localhost")]
    public async Task Bad_setting_stops_startup_with_a_message_naming_the_variable_and_value(string name, string value)
    {
        await using var hermes = HermesProcess.Start(new() { [name] = value });

        var exitCode = await hermes.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(2, exitCode);
        Assert.Contains($"{name}={value}", hermes.StandardError);
    }

    [Fact]
    public async Task Every_bad_setting_is_reported_at_once()
    {
        await using var hermes = HermesProcess.Start(new() { ["QUEUE_SIZE"] = "-1", ["BATCH_SIZE"] = "lots", ["Hermes__Ingest__FlushInterval"] = "soon" });

        var exitCode = await hermes.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(2, exitCode);
        Assert.Contains("QUEUE_SIZE=-1", hermes.StandardError);
        Assert.Contains("BATCH_SIZE=lots", hermes.StandardError);
        Assert.Contains("Hermes:Ingest:FlushInterval=soon", hermes.StandardError);
    }

    [Fact]
    public async Task Options_changed_in_code_are_held_to_the_same_rules_when_the_host_starts()
    {
        await using var hermes = new HermesFactory().WithServices(services => services.Configure<IngestOptions>(options => options.QueueSize = 0));

        var error = Assert.Throws<OptionsValidationException>(() => hermes.Start());

        Assert.Contains("QueueSize: The field IngestOptions.QueueSize must be between 1 and 100000000.", error.Failures);
    }

    [Fact]
    public async Task The_options_are_the_loaded_settings_with_any_change_made_in_code()
    {
        await using var hermes = new HermesFactory(new() { ["QUEUE_SIZE"] = "500" }).WithServices(services => services.Configure<IngestOptions>(options => options.BatchSize = 250));
        hermes.Start();

        var options = hermes.Service<IOptions<IngestOptions>>().Value;

        Assert.Equal((500, 250), (options.QueueSize, options.BatchSize));
        Assert.Same(options, hermes.Service<IngestOptions>());
    }

    [Theory]
    [InlineData("DB_DSN", "ftp://nowhere")]
    [InlineData("DB_BREAKER_FAILURES", "1")]
    [InlineData("DB_BREAKER_BREAK", "soon")]
    [InlineData("SPILL_MAX_BYTES", "-3")]
    [InlineData("SPILL_DIR", "/proc/hermes-spill")]
    public async Task Bad_database_setting_stops_startup_with_a_message_naming_the_variable(string name, string value)
    {
        var environment = new Dictionary<string, string> { ["DB_DSN"] = "postgres://u@127.0.0.1:1/db", [name] = value };
        await using var hermes = HermesProcess.Start(environment);

        var exitCode = await hermes.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(2, exitCode);
        Assert.Contains($"{name}={value}", hermes.StandardError);
    }
}

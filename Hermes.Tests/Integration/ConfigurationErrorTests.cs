using Hermes.Tests.Infrastructure;

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
}

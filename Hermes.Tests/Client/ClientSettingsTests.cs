using Hermes.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Hermes.Tests.Client;

/// <summary>Settings come from <c>Hermes:Client</c> and are checked at startup, each bad one named with its value.</summary>
public sealed class ClientSettingsTests
{
    [Theory]
    [InlineData("BufferCapacity", "0", "Hermes:Client:BufferCapacity=0 is invalid: expected a whole number between 1 and 10000000.")]
    [InlineData("MaxBatchEvents", "20000", "Hermes:Client:MaxBatchEvents=20000 is invalid: expected a whole number between 1 and 10000.")]
    [InlineData("MaxBatchBytes", "100", "Hermes:Client:MaxBatchBytes=100 is invalid")]
    [InlineData("MaxConcurrentRequests", "0", "Hermes:Client:MaxConcurrentRequests=0 is invalid")]
    [InlineData("FlushInterval", "00:00:00", "Hermes:Client:FlushInterval=00:00:00 is invalid: expected a duration between")]
    [InlineData("AttemptTimeout", "-00:00:01", "Hermes:Client:AttemptTimeout=-00:00:01 is invalid")]
    [InlineData("Endpoint", "ftp://hermes.example", "Hermes:Client:Endpoint=ftp://hermes.example/ is invalid: expected an absolute http or https address")]
    [InlineData("ApiKeyHeaderName", "X Api Key", "Hermes:Client:ApiKeyHeaderName=X Api Key is invalid")]
    [InlineData("BufferCapacity", "lots", "Failed to convert configuration value 'lots' at 'Hermes:Client:BufferCapacity'")]
    public void A_bad_setting_stops_startup_with_a_message_naming_it(string name, string value, string message)
    {
        var builder = Builder(new() { [$"Hermes:Client:{name}"] = value });

        var ex = Assert.Throws<OptionsValidationException>(() => builder.AddHermesClient("ingest"));

        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_bad_setting_is_reported_at_once_and_a_bad_key_is_never_repeated()
    {
        var builder = Builder(new()
        {
            ["Hermes:Client:ApiKey"] = "short,secret",
            ["Hermes:Client:BufferCapacity"] = "0",
            ["Hermes:Client:ShutdownTimeout"] = "01:00:00",
        });

        var ex = Assert.Throws<OptionsValidationException>(() => builder.AddHermesClient("ingest"));

        Assert.Equal(3, ex.Failures.Count());
        Assert.Contains("Hermes:Client:ApiKey=(redacted) is invalid: a Hermes key is at least 16 printable ASCII characters", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("short,secret", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Hermes:Client:ShutdownTimeout=01:00:00 is invalid", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_address_is_the_endpoint_setting_else_the_connection_string_else_service_discovery()
    {
        Assert.Equal(new Uri("https+http://ingest"), EndpointOf(Builder([])));
        Assert.Equal(new Uri("http://10.1.2.3:8080"), EndpointOf(Builder(new() { ["ConnectionStrings:ingest"] = "http://10.1.2.3:8080" })));
        Assert.Equal(new Uri("http://hermes.internal:9000"), EndpointOf(Builder(new()
        {
            ["ConnectionStrings:ingest"] = "http://10.1.2.3:8080",
            ["Hermes:Client:Endpoint"] = "http://hermes.internal:9000",
        })));

        var bad = Assert.Throws<OptionsValidationException>(() => Builder(new() { ["ConnectionStrings:ingest"] = "not a url" }).AddHermesClient("ingest"));
        Assert.Contains("ConnectionStrings:ingest=not a url is invalid", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Settings_bind_from_configuration_and_the_delegate_has_the_last_word()
    {
        var builder = Builder(new()
        {
            ["Hermes:Client:BufferCapacity"] = "500",
            ["Hermes:Client:MaxBatchEvents"] = "50",
            ["Hermes:Client:DurableAck"] = "true",
            ["Hermes:Client:FlushInterval"] = "00:00:00.250",
        });
        HermesClientSettings? seen = null;

        builder.AddHermesClient("ingest", settings =>
        {
            settings.MaxBatchEvents = 25;
            seen = settings;
        });

        Assert.NotNull(seen);
        Assert.Equal(500, seen.BufferCapacity);
        Assert.Equal(25, seen.MaxBatchEvents);
        Assert.True(seen.DurableAck);
        Assert.Equal(TimeSpan.FromMilliseconds(250), seen.FlushInterval);
    }

    [Fact]
    public void An_application_registers_one_client()
    {
        var services = new ServiceCollection();
        services.AddHermesClient(new Uri("http://127.0.0.1:1"));

        var ex = Assert.Throws<InvalidOperationException>(() => services.AddHermesClient(new Uri("http://127.0.0.1:2")));

        Assert.Contains("AddHermesClient was called twice", ex.Message, StringComparison.Ordinal);
    }

    private static HostApplicationBuilder Builder(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        return builder;
    }

    private static Uri? EndpointOf(HostApplicationBuilder builder)
    {
        Uri? endpoint = null;
        builder.AddHermesClient("ingest", settings => endpoint = settings.Endpoint);
        return endpoint;
    }
}

using Microsoft.Extensions.Configuration;

namespace Hermes.Tests.Infrastructure;

/// <summary>Configuration as an operator gives it: names (seed environment names or .NET keys) and values.</summary>
public static class Settings
{
    public static IConfiguration Of(params (string Key, string Value)[] settings) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build();
}

using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Hermes.Client;
using Hermes.Client.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Hermes.Tests.Client;

/// <summary>
/// A <see cref="HermesClient"/> registered the way an app outside Aspire registers it (<c>services.AddHermesClient(uri)</c>),
/// with every log line kept (Trace level included, so HttpClient's header logging runs) and its own meter factory,
/// so its instruments can be read apart from the other clients in this test process.
/// </summary>
internal sealed class ClientHarness : IAsyncDisposable
{
    private ClientHarness(ServiceProvider provider, LogCapture logs)
    {
        Provider = provider;
        Logs = logs;
        Client = provider.GetRequiredService<HermesClient>();
    }

    public ServiceProvider Provider { get; }

    public HermesClient Client { get; }

    public LogCapture Logs { get; }

    public HermesClientMetrics Metrics => Provider.GetRequiredService<HermesClientMetrics>();

    /// <summary>Small batches and short waits, so tests see retries and flushes in seconds.</summary>
    public static ClientHarness Start(Uri endpoint, Action<HermesClientSettings>? configure = null)
    {
        var logs = new LogCapture();
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(logs));
        services.AddMetrics();
        services.AddHermesClient(endpoint, settings =>
        {
            settings.FlushInterval = TimeSpan.FromMilliseconds(50);
            settings.MaxRetryDelay = TimeSpan.FromSeconds(1);
            settings.AttemptTimeout = TimeSpan.FromSeconds(10);
            settings.ShutdownTimeout = TimeSpan.FromSeconds(30);
            configure?.Invoke(settings);
        });
        return new ClientHarness(services.BuildServiceProvider(), logs);
    }

    /// <summary>Waits until Hermes has answered everything tracked so far (bounded: a test never hangs on it).</summary>
    public Task FlushAsync(int seconds = 60) =>
        Client.FlushAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(seconds), TestContext.Current.CancellationToken);

    public async Task<HealthReport> HealthAsync() =>
        await Provider.GetRequiredService<HealthCheckService>().CheckHealthAsync(TestContext.Current.CancellationToken);

    /// <summary>The current value of one of this client's observable counters or gauges, summed over the matching tags.</summary>
    public long Measure(string instrument, string? tag = null, string? value = null)
    {
        var factory = Provider.GetRequiredService<IMeterFactory>();
        long total = 0;
        using var listener = new MeterListener
        {
            InstrumentPublished = (published, l) =>
            {
                if (published.Meter.Scope == factory && published.Name == instrument)
                {
                    l.EnableMeasurementEvents(published);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, measurement, tags, _) =>
        {
            if (tag is null || tags.ToArray().Any(t => t.Key == tag && Equals(t.Value, value)))
            {
                total += measurement;
            }
        });
        listener.SetMeasurementEventCallback<int>((_, measurement, tags, _) => total += measurement);
        listener.Start();
        listener.RecordObservableInstruments();
        return total;
    }

    public ValueTask DisposeAsync() => Provider.DisposeAsync();
}

/// <summary>Every message logged, formatted, with its level and category.</summary>
internal sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<(LogLevel Level, string Category, string Message)> _entries = new();

    public IReadOnlyCollection<(LogLevel Level, string Category, string Message)> Entries => _entries;

    public string All => string.Join('\n', _entries.Select(e => $"{e.Level} {e.Category}: {e.Message}"));

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture capture, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            capture._entries.Enqueue((logLevel, category, formatter(state, exception) + (exception is null ? "" : " " + exception)));
    }
}

using System.Diagnostics.Metrics;
using System.Net.Sockets;
using Hermes.Ingest.Sinks.Postgres;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Polly.CircuitBreaker;

namespace Hermes.Tests.Postgres;

public sealed class DatabaseBreakerTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch.AddDays(20_000));
    private readonly ServiceMeterFactory _meters = new();
    private readonly PostgresSinkMetrics _metrics;
    private readonly DatabaseBreaker _breaker;
    private int _calls;

    public DatabaseBreakerTests()
    {
        _metrics = new PostgresSinkMetrics(_meters);
        _breaker = new DatabaseBreaker(new PostgresSinkOptions(), _metrics, _time, NullLogger<DatabaseBreaker>.Instance);
    }

    public void Dispose() => _meters.Dispose();

    [Fact]
    public async Task Opens_after_three_failed_writes_and_half_opens_after_thirty_seconds()
    {
        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<SocketException>(() => RunAsync(new SocketException((int)SocketError.ConnectionRefused)));
        }

        Assert.Equal(DatabaseBreaker.Open, _breaker.State);
        Assert.Equal(DatabaseBreaker.Open, _metrics.CircuitState);
        await Assert.ThrowsAsync<BrokenCircuitException>(() => RunAsync(null));
        _time.Advance(TimeSpan.FromSeconds(29));
        await Assert.ThrowsAsync<BrokenCircuitException>(() => RunAsync(null));
        Assert.Equal(3, _calls);

        _time.Advance(TimeSpan.FromSeconds(1));
        await RunAsync(null);

        Assert.Equal(4, _calls);
        Assert.Equal(DatabaseBreaker.Closed, _breaker.State);
        Assert.Equal(DatabaseBreaker.Closed, _metrics.CircuitState);
    }

    [Fact]
    public async Task A_failed_trial_opens_it_again()
    {
        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<TimeoutException>(() => RunAsync(new TimeoutException()));
        }

        _time.Advance(TimeSpan.FromSeconds(30));
        await Assert.ThrowsAsync<NpgsqlException>(() => RunAsync(new NpgsqlException("connection refused", new SocketException())));

        Assert.Equal(DatabaseBreaker.Open, _breaker.State);
        await Assert.ThrowsAsync<BrokenCircuitException>(() => RunAsync(null));
    }

    [Fact]
    public async Task Only_failures_in_a_row_open_it_and_a_data_error_or_success_ends_the_run()
    {
        var untranslatable = new PostgresException("unsupported Unicode escape sequence", "ERROR", "ERROR", "22P05");

        await Assert.ThrowsAsync<SocketException>(() => RunAsync(new SocketException()));
        await Assert.ThrowsAsync<SocketException>(() => RunAsync(new SocketException()));
        await Assert.ThrowsAsync<PostgresException>(() => RunAsync(untranslatable));
        await Assert.ThrowsAsync<SocketException>(() => RunAsync(new SocketException()));
        await Assert.ThrowsAsync<SocketException>(() => RunAsync(new SocketException()));
        await RunAsync(null);
        await Assert.ThrowsAsync<SocketException>(() => RunAsync(new SocketException()));
        await Assert.ThrowsAsync<SocketException>(() => RunAsync(new SocketException()));
        Assert.Equal(DatabaseBreaker.Closed, _breaker.State);

        await Assert.ThrowsAsync<SocketException>(() => RunAsync(new SocketException()));

        Assert.Equal(DatabaseBreaker.Open, _breaker.State);
        Assert.True(DatabaseBreaker.IsDataError(untranslatable));
        Assert.True(DatabaseBreaker.IsDataError(new PostgresException("dup", "ERROR", "ERROR", "23505")));
        Assert.False(DatabaseBreaker.IsDataError(new PostgresException("no table", "ERROR", "ERROR", "42P01")));
    }

    [Fact]
    public async Task Many_recent_successes_do_not_delay_opening_when_the_database_goes_away()
    {
        for (var i = 0; i < 1_000; i++)
        {
            await RunAsync(null);
        }

        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<SocketException>(() => RunAsync(new SocketException()));
        }

        Assert.Equal(DatabaseBreaker.Open, _breaker.State);
    }

    private async Task RunAsync(Exception? failure) =>
        await _breaker.ExecuteAsync(
            static (state, _) =>
            {
                state.Test._calls++;
                return state.Failure is null ? ValueTask.CompletedTask : ValueTask.FromException(state.Failure);
            },
            (Test: this, Failure: failure),
            CancellationToken.None);
}

/// <summary>A bare IMeterFactory for constructing metrics classes outside the host.</summary>
public sealed class ServiceMeterFactory : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options);
        _meters.Add(meter);
        return meter;
    }

    public void Dispose() => _meters.ForEach(m => m.Dispose());
}

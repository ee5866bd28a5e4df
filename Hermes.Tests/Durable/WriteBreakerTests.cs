using System.Diagnostics.Metrics;
using System.Net.Sockets;
using Hermes.Ingest.Events;
using Hermes.Ingest.Sinks.Durable;
using Hermes.Ingest.Sinks.Postgres;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Polly.CircuitBreaker;

namespace Hermes.Tests.Durable;

public sealed class WriteBreakerTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch.AddDays(20_000));
    private readonly ServiceMeterFactory _meters = new();
    private readonly DurableSinkMetrics _metrics;
    private readonly WriteBreaker _breaker;
    private int _calls;

    public WriteBreakerTests()
    {
        _metrics = new DurableSinkMetrics(_meters);
        _breaker = new WriteBreaker(new DurableSinkOptions(), new PostgresErrors(), _metrics, _time, NullLogger<WriteBreaker>.Instance);
    }

    public void Dispose() => _meters.Dispose();

    [Fact]
    public async Task Opens_after_three_failed_writes_and_half_opens_after_thirty_seconds()
    {
        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<SocketException>(() => RunAsync(new SocketException((int)SocketError.ConnectionRefused)));
        }

        Assert.Equal(WriteBreaker.Open, _breaker.State);
        Assert.Equal(WriteBreaker.Open, _metrics.CircuitState);
        await Assert.ThrowsAsync<BrokenCircuitException>(() => RunAsync(null));
        _time.Advance(TimeSpan.FromSeconds(29));
        await Assert.ThrowsAsync<BrokenCircuitException>(() => RunAsync(null));
        Assert.Equal(3, _calls);

        _time.Advance(TimeSpan.FromSeconds(1));
        await RunAsync(null);

        Assert.Equal(4, _calls);
        Assert.Equal(WriteBreaker.Closed, _breaker.State);
        Assert.Equal(WriteBreaker.Closed, _metrics.CircuitState);
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

        Assert.Equal(WriteBreaker.Open, _breaker.State);
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
        Assert.Equal(WriteBreaker.Closed, _breaker.State);

        await Assert.ThrowsAsync<SocketException>(() => RunAsync(new SocketException()));

        Assert.Equal(WriteBreaker.Open, _breaker.State);
        Assert.Equal(WriteFailure.Data, PostgresBatchWriter.ClassifyError(untranslatable));
        Assert.Equal(WriteFailure.Data, PostgresBatchWriter.ClassifyError(new PostgresException("dup", "ERROR", "ERROR", "23505")));
        Assert.Equal(WriteFailure.Other, PostgresBatchWriter.ClassifyError(new PostgresException("no table", "ERROR", "ERROR", "42P01")));
        Assert.Equal(WriteFailure.Conflict, PostgresBatchWriter.ClassifyError(new PostgresException("deadlock", "ERROR", "ERROR", "40P01")));
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

        Assert.Equal(WriteBreaker.Open, _breaker.State);
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

/// <summary>PostgreSQL's classification of failures, without a database: the breaker counts what it calls connectivity.</summary>
internal sealed class PostgresErrors : IBatchWriter
{
    public string Name => "postgres";

    public int MaxConcurrentWrites => 1;

    public Task<bool> TryPrepareAsync(CancellationToken cancellationToken) => Task.FromResult(true);

    public Task<long> WriteAsync(ReadOnlyMemory<EventRecord> batch, IReadOnlyList<string> typeNames, WriteContext context, CancellationToken cancellationToken) =>
        throw new NotSupportedException();

    public WriteFailure Classify(Exception exception) => PostgresBatchWriter.ClassifyError(exception);

    public Task DeadLetterAsync(EventRecord refused, IReadOnlyList<string> typeNames, Exception error, CancellationToken cancellationToken) =>
        throw new NotSupportedException();
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

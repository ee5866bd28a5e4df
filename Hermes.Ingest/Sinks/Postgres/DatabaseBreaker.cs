using System.Net.Sockets;
using Npgsql;
using Polly;
using Polly.CircuitBreaker;

namespace Hermes.Ingest.Sinks.Postgres;

/// <summary>
/// The Polly v8 circuit breaker in front of every database write. Seed semantics: after
/// <c>DB_BREAKER_FAILURES</c> (3) failed writes in a row, stop
/// calling the database for <c>DB_BREAKER_BREAK</c> (30 s), then let one trial through; its success closes the breaker.
/// Only connectivity failures and timeouts count: a batch refused for its data says nothing about the server.
/// </summary>
public sealed partial class DatabaseBreaker
{
    public const int Closed = 0;
    public const int Open = 1;
    public const int HalfOpen = 2;

    private readonly ResiliencePipeline _pipeline;
    private readonly CircuitBreakerStateProvider _state = new();
    private int _consecutiveFailures;

    public DatabaseBreaker(PostgresSinkOptions options, PostgresSinkMetrics metrics, TimeProvider time, ILogger<DatabaseBreaker> logger)
    {
        var threshold = options.BreakerFailures;
        _pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                // Polly v8 breaks on a failure ratio over a sampling window; the seed breaks on N failures in a row.
                // A window ratio over-counts old successes (with 30 s of successful writes in the window, an outage
                // would not open it for 30 s), so the run is counted here: only the N-th consecutive connectivity
                // failure is reported as handled, and any other outcome ends the run. With a failure ratio of 0,
                // that report opens the circuit; Polly keeps the states, the break, the half-open trial and events.
                FailureRatio = 0,
                MinimumThroughput = 2,
                SamplingDuration = TimeSpan.FromMinutes(1),
                BreakDuration = options.BreakerBreak,
                ShouldHandle = args =>
                {
                    if (args.Outcome.Exception is { } exception && IsConnectivityFailure(exception))
                    {
                        return ValueTask.FromResult(Interlocked.Increment(ref _consecutiveFailures) >= threshold);
                    }

                    Volatile.Write(ref _consecutiveFailures, 0);
                    return ValueTask.FromResult(false);
                },
                StateProvider = _state,
                OnOpened = args =>
                {
                    metrics.SetCircuitState(Open);
                    LogOpened(logger, args.Outcome.Exception, args.BreakDuration.TotalSeconds);
                    return ValueTask.CompletedTask;
                },
                OnHalfOpened = _ =>
                {
                    metrics.SetCircuitState(HalfOpen);
                    LogHalfOpened(logger);
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    metrics.SetCircuitState(Closed);
                    LogClosed(logger);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    /// <summary>0 closed, 1 open, 2 half-open (isolated counts as open).</summary>
    public int State => _state.CircuitState switch
    {
        CircuitState.Closed => Closed,
        CircuitState.HalfOpen => HalfOpen,
        _ => Open,
    };

    /// <summary>Runs one write through the breaker; throws <see cref="BrokenCircuitException"/> while it is open.</summary>
    public ValueTask ExecuteAsync<TState>(Func<TState, CancellationToken, ValueTask> write, TState state, CancellationToken cancellationToken) =>
        _pipeline.ExecuteAsync(write, state, cancellationToken);

    /// <summary>Could not reach the server, the connection broke, or the write timed out.</summary>
    public static bool IsConnectivityFailure(Exception exception) => exception switch
    {
        PostgresException pg => pg.IsTransient && !IsRetryableConflict(pg),
        NpgsqlException npgsql => npgsql.IsTransient || npgsql.InnerException is SocketException or IOException or TimeoutException,
        SocketException or TimeoutException => true,
        _ => false,
    };

    /// <summary>
    /// The server refused the rows themselves: SQLSTATE class 22 (data exception) or 23 (integrity constraint), but
    /// not a missing partition (also 23514), which is about the table: that batch must be kept, not dead-lettered.
    /// </summary>
    public static bool IsDataError(Exception exception) =>
        exception is PostgresException { SqlState: [('2'), ('2' or '3'), ..] } pg && !EventBatchWriter.IsMissingPartition(pg);

    /// <summary>Deadlock or serialization failure between writers: retry at once, it says nothing about the server.</summary>
    public static bool IsRetryableConflict(PostgresException exception) => exception.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure;

    [LoggerMessage(Level = LogLevel.Error, Message = "Database circuit opened for {BreakSeconds} s: writes go to the disk spill")]
    private static partial void LogOpened(ILogger logger, Exception? exception, double breakSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Database circuit half-open: trying one write")]
    private static partial void LogHalfOpened(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Database circuit closed: writing to the database again")]
    private static partial void LogClosed(ILogger logger);
}

using Polly;
using Polly.CircuitBreaker;

namespace Hermes.Ingest.Sinks.Durable;

/// <summary>
/// The Polly v8 circuit breaker in front of every write. Seed semantics: after <c>DB_BREAKER_FAILURES</c> (3) failed
/// writes in a row, stop calling the destination for <c>DB_BREAKER_BREAK</c> (30 s), then let one trial through; its
/// success closes the breaker. Only connectivity failures and timeouts count: a batch refused for its data says
/// nothing about the destination.
/// </summary>
public sealed partial class WriteBreaker
{
    public const int Closed = 0;
    public const int Open = 1;
    public const int HalfOpen = 2;

    private readonly ResiliencePipeline _pipeline;
    private readonly CircuitBreakerStateProvider _state = new();
    private readonly IBatchWriter _writer;
    private int _consecutiveFailures;

    public WriteBreaker(DurableSinkOptions options, IBatchWriter writer, DurableSinkMetrics metrics, TimeProvider time, ILogger<WriteBreaker> logger)
    {
        _writer = writer;
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
                    LogOpened(logger, args.Outcome.Exception, writer.Name, args.BreakDuration.TotalSeconds);
                    return ValueTask.CompletedTask;
                },
                OnHalfOpened = _ =>
                {
                    metrics.SetCircuitState(HalfOpen);
                    LogHalfOpened(logger, writer.Name);
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    metrics.SetCircuitState(Closed);
                    LogClosed(logger, writer.Name);
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

    /// <summary>Could not reach the destination, the connection broke, or the write timed out (DB_WRITE_TIMEOUT).</summary>
    public bool IsConnectivityFailure(Exception exception) =>
        exception is TimeoutException || _writer.Classify(exception) == WriteFailure.Connectivity;

    /// <summary>The connectivity failure was a timeout (the write's own, or the destination's client giving up).</summary>
    public static bool IsTimeout(Exception exception) => exception is TimeoutException || exception.InnerException is TimeoutException;

    [LoggerMessage(Level = LogLevel.Error, Message = "Circuit to the {Sink} sink opened for {BreakSeconds} s: writes go to the disk spill")]
    private static partial void LogOpened(ILogger logger, Exception? exception, string sink, double breakSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Circuit to the {Sink} sink half-open: trying one write")]
    private static partial void LogHalfOpened(ILogger logger, string sink);

    [LoggerMessage(Level = LogLevel.Information, Message = "Circuit to the {Sink} sink closed: writing to it again")]
    private static partial void LogClosed(ILogger logger, string sink);
}

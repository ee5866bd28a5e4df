using System.Net;
using Hermes.Client.Diagnostics;
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Hermes.Client.Sending;

/// <summary>
/// The client's resilience pipeline (Microsoft.Extensions.Http.Resilience), built on Hermes's contract
/// (docs/ENGINEERING.md §3.3): a 503 or 429 means nothing of the request was queued, so it is resent after the
/// <c>Retry-After</c> Hermes gave; a transport failure or a timeout may or may not have been queued, and resending is
/// still safe because every event keeps the id and timestamp it got in <c>Track</c> and Hermes stores an event once.
/// Any other 4xx would be refused again, so it is never retried, and neither is a 500 (a Hermes bug).
/// Order, outermost first: retry, circuit breaker, attempt timeout.
/// </summary>
internal static class HermesResilience
{
    public const string PipelineName = "hermes";

    public static void Configure(ResiliencePipelineBuilder<HttpResponseMessage> pipeline, HermesClientSettings settings, HermesClientMetrics metrics, DeliveryState delivery)
    {
        var baseDelay = TimeSpan.FromMilliseconds(Math.Min(500, settings.MaxRetryDelay.TotalMilliseconds));
        pipeline
            .AddRetry(new HttpRetryStrategyOptions
            {
                // Without end: a batch is held until Hermes takes it or the client shuts down (ShutdownTimeout bounds
                // that). Giving up after N attempts would drop events while the buffer still had room for them, and a
                // total timeout would do the same; the buffer's bound is what limits an outage's cost.
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = baseDelay,
                MaxDelay = settings.MaxRetryDelay,
                // Hermes's Retry-After (1–30 s for a full queue, 1–60 s for a rate limit) replaces the backoff, uncapped.
                ShouldRetryAfterHeader = true,
                ShouldHandle = static args => ShouldRetryAsync(args.Outcome, args.Context.CancellationToken),
                OnRetry = args =>
                {
                    var reason = Reason(args.Outcome);
                    metrics.OnRetry(reason);
                    delivery.OnAttemptFailed(Describe(args.Outcome, reason));
                    return default;
                },
            })
            .AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
            {
                // Counts only "Hermes is not there" (no connection, no answer in time, a gateway's 502/504), not its
                // backpressure, whose Retry-After already says when to come back. Open, it fails attempts at once for
                // 5 s, so several senders (MaxConcurrentRequests) stop hammering together, and the health check says so.
                ShouldHandle = static args => ValueTask.FromResult(IsUnreachable(args.Outcome)),
                FailureRatio = 0.5,
                MinimumThroughput = 5,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = TimeSpan.FromSeconds(5),
            })
            .AddTimeout(new HttpTimeoutStrategyOptions { Timeout = settings.AttemptTimeout });
    }

    /// <summary>Statuses that mean "not queued, or not known to be: send the same bytes again".</summary>
    public static bool IsRetryableStatus(HttpStatusCode status) => status is
        HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout
        or HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout;

    private static async ValueTask<bool> ShouldRetryAsync(Outcome<HttpResponseMessage> outcome, CancellationToken cancellationToken)
    {
        if (outcome.Exception is { } exception)
        {
            return exception is HttpRequestException or TimeoutRejectedException or BrokenCircuitException;
        }

        var response = outcome.Result!;
        if (!IsRetryableStatus(response.StatusCode))
        {
            return false;
        }

        // A batch larger than the key's whole burst gets 429 events/burst every time: the sender splits it instead.
        return response.StatusCode != HttpStatusCode.TooManyRequests
            || (await HermesAnswers.ReadProblemAsync(response, cancellationToken).ConfigureAwait(false)).Rule != "burst";
    }

    private static bool IsUnreachable(Outcome<HttpResponseMessage> outcome) =>
        outcome.Exception is HttpRequestException or TimeoutRejectedException
        || outcome.Result?.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout;

    private static string Reason(Outcome<HttpResponseMessage> outcome) => outcome.Exception switch
    {
        TimeoutRejectedException => "timeout",
        BrokenCircuitException => "circuit_open",
        not null => "transport",
        null => ((int)outcome.Result!.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static string Describe(Outcome<HttpResponseMessage> outcome, string reason) => outcome.Exception switch
    {
        HttpRequestException http => $"transport: {http.Message}",
        TimeoutRejectedException => "no answer within Hermes:Client:AttemptTimeout",
        BrokenCircuitException => "circuit open after repeated failures",
        not null => reason,
        null => $"{reason} {outcome.Result!.ReasonPhrase}",
    };
}

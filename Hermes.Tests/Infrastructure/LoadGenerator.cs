using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;

namespace Hermes.Tests.Infrastructure;

/// <summary>
/// Drives one Hermes with 1,000-event NDJSON batches from a few concurrent senders for a bounded time, over
/// loopback, and keeps the books: every id answered 202, every status seen, every 503's Retry-After.
/// </summary>
public sealed class LoadGenerator(HttpClient client, string runId, int senders = 6, int eventsPerBatch = 1_000)
{
    public ConcurrentBag<string> AcceptedIds { get; } = [];

    public ConcurrentDictionary<int, int> Statuses { get; } = new();

    public int MissingRetryAfter;

    public long TransportErrors;

    /// <summary>How long each soak runs: a few seconds in CI, a minute with SOAK=long.</summary>
    public static TimeSpan SoakDuration(int ciSeconds) =>
        TimeSpan.FromSeconds(Environment.GetEnvironmentVariable("SOAK") == "long" ? 60 : ciSeconds);

    public async Task RunAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(duration);
        await Task.WhenAll(Enumerable.Range(0, senders).Select(sender => SendAsync(sender, stop.Token)));
    }

    private async Task SendAsync(int sender, CancellationToken stop)
    {
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        for (var request = 0; !stop.IsCancellationRequested; request++)
        {
            var ids = Enumerable.Range(0, eventsPerBatch).Select(i => $"{runId}-{sender}-{request}-{i}").ToArray();
            var body = new StringBuilder(eventsPerBatch * 110);
            foreach (var id in ids)
            {
                body.Append(Events.Json(id, timestamp: timestamp, payload: "{\"k\":1}")).Append('\n');
            }

            using var content = new StringContent(body.ToString(), Encoding.UTF8, new MediaTypeHeaderValue("application/x-ndjson"));
            try
            {
                // Not cancelled by `stop`: a request in flight is finished, so its answer is known and counted.
                using var response = await client.PostAsync("/events/batch", content, CancellationToken.None);
                var status = (int)response.StatusCode;
                Statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
                if (status == 202)
                {
                    foreach (var id in ids)
                    {
                        AcceptedIds.Add(id);
                    }
                }
                else if (status == 503)
                {
                    if (response.Headers.RetryAfter?.Delta is null)
                    {
                        Interlocked.Increment(ref MissingRetryAfter);
                    }

                    await Task.Delay(5, CancellationToken.None);
                }
            }
            catch (HttpRequestException)
            {
                // The server is going away (SIGTERM tests): nothing was answered, so nothing was promised.
                Interlocked.Increment(ref TransportErrors);
                await Task.Delay(10, CancellationToken.None);
            }
        }
    }
}

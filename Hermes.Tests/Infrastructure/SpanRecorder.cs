using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;

namespace Hermes.Tests.Infrastructure;

/// <summary>
/// Records every span Hermes, ASP.NET Core and Npgsql end while it lives (an <see cref="ActivityListener"/> sees the
/// whole process, so tests find theirs by trace id), and posts requests under a trace of the test's choosing.
/// </summary>
public sealed class SpanRecorder : IDisposable
{
    private readonly ConcurrentBag<Activity> _stopped = [];
    private readonly ActivityListener _listener;

    public SpanRecorder()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Hermes" or "Microsoft.AspNetCore" or "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Add,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public IReadOnlyCollection<Activity> Stopped => _stopped;

    public void Dispose() => _listener.Dispose();

    public async Task<Activity> WaitForAsync(Func<Activity, bool> match)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        Activity? found;
        while ((found = _stopped.FirstOrDefault(match)) is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        return found ?? throw new Xunit.Sdk.XunitException("no matching span was recorded");
    }

    public static Task PostTracedAsync(HttpClient client, string path, ActivityTraceId trace, string id, HttpStatusCode expected = HttpStatusCode.Accepted) =>
        PostTracedAsync(client, path, trace, Events.Body(Events.Json(id)), expected);

    public static async Task PostTracedAsync(HttpClient client, string path, ActivityTraceId trace, HttpContent content, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        request.Headers.Add("traceparent", $"00-{trace}-{ActivitySpanId.CreateRandom()}-01");
        Assert.Equal(expected, (await client.SendAsync(request, TestContext.Current.CancellationToken)).StatusCode);
    }
}

using System.Diagnostics;
using System.Net;
using Hermes.Client.Buffering;
using Hermes.Client.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Hermes.Client.Sending;

/// <summary>
/// The one loop that empties the buffer: it takes a batch once <c>MaxBatchEvents</c> are waiting, or
/// <c>FlushInterval</c> after the last batch, or at once when a flush is asked for, and sends it with at most
/// <c>MaxConcurrentRequests</c> in flight. A batch is retried (by the resilience pipeline) until Hermes answers it;
/// a full buffer, not a give-up, is what bounds an outage. At shutdown what is not answered by the deadline is lost
/// and counted.
/// </summary>
internal sealed class BatchSender
{
    public const string HttpClientName = "Hermes.Client";

    private readonly EventBuffer _buffer;
    private readonly HermesClientSettings _settings;
    private readonly IHttpClientFactory _http;
    private readonly HermesClientMetrics _metrics;
    private readonly DeliveryState _delivery;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Uri _batchUri;
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _stopSending = new();
    private readonly CancellationTokenSource _stopLoop = new();
    private readonly List<TaskCompletionSource> _flushWaiters = [];
    private readonly Task _loop;
    private int _inFlight;
    private int _sends;
    private int _splitLogged;

    public BatchSender(EventBuffer buffer, HermesClientSettings settings, IHttpClientFactory http, HermesClientMetrics metrics,
        DeliveryState delivery, ILogger logger, TimeProvider time)
    {
        _buffer = buffer;
        _settings = settings;
        _http = http;
        _metrics = metrics;
        _delivery = delivery;
        _logger = logger;
        _time = time;
        _batchUri = new Uri(settings.DurableAck ? "events/batch?ack=durable" : "events/batch", UriKind.Relative);
        _slots = new SemaphoreSlim(settings.MaxConcurrentRequests, settings.MaxConcurrentRequests);

        // Whoever first resolves the client may be inside a request span: the loop must not inherit it, or every
        // batch would be that request's child.
        using (ExecutionContext.SuppressFlow())
        {
            _loop = Task.Run(RunAsync);
        }
    }

    /// <summary>Events taken from the buffer and not yet answered.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Completes once the buffer is empty and every batch answered, or the sender has stopped.</summary>
    public Task FlushAsync(CancellationToken cancellationToken)
    {
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_flushWaiters)
        {
            if (_loop.IsCompleted)
            {
                return Task.CompletedTask;
            }

            _flushWaiters.Add(waiter);
        }

        _buffer.Wake();
        return waiter.Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Sends what is buffered, waiting up to <paramref name="timeout"/> (or until <paramref name="cancellationToken"/>),
    /// then ends every attempt still running. Returns how many events were lost: not answered by then.
    /// </summary>
    public async Task<int> StopAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var lostBefore = _metrics.Lost;
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            deadline.CancelAfter(timeout);
            try
            {
                await FlushAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The deadline: what is still buffered or in flight is lost below.
            }
        }

        await _stopSending.CancelAsync().ConfigureAwait(false);
        await _stopLoop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        for (var i = 0; i < _settings.MaxConcurrentRequests; i++)
        {
            // Every slot back: no send is running, and each counted what it could not deliver.
            await _slots.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        }

        // A Track that reserved its slot just before the client closed enqueues a moment later: wait for it (briefly).
        var left = _buffer.DrainAll();
        for (var spins = 0; _buffer.Count > 0 && spins < 1_000; spins++)
        {
            await Task.Yield();
            left += _buffer.DrainAll();
        }

        _metrics.OnLost(left);
        return (int)(_metrics.Lost - lostBefore);
    }

    private async Task RunAsync()
    {
        var stop = _stopLoop.Token;
        var lastTake = _time.GetTimestamp();
        try
        {
            while (true)
            {
                var count = _buffer.Count;
                var sinceLast = _time.GetElapsedTime(lastTake);
                if (count == 0 || (count < _settings.MaxBatchEvents && sinceLast < _settings.FlushInterval && !FlushRequested()))
                {
                    if (count == 0 && Volatile.Read(ref _sends) == 0)
                    {
                        CompleteFlushWaiters();
                    }

                    await _buffer.WaitAsync(count == 0 ? _settings.FlushInterval : _settings.FlushInterval - sinceLast, stop).ConfigureAwait(false);
                    continue;
                }

                await _slots.WaitAsync(stop).ConfigureAwait(false);
                var batch = new List<byte[]>(Math.Min(count, _settings.MaxBatchEvents));
                _buffer.TakeBatch(batch, _settings.MaxBatchEvents, _settings.MaxBatchBytes);
                if (batch.Count == 0)
                {
                    // Counted but not enqueued yet: a Track between its reservation and its enqueue.
                    _slots.Release();
                    await Task.Yield();
                    continue;
                }

                lastTake = _time.GetTimestamp();
                Interlocked.Add(ref _inFlight, batch.Count);
                Interlocked.Increment(ref _sends);
                _ = SendAndReleaseAsync(batch);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        finally
        {
            CompleteFlushWaiters();
        }
    }

    private bool FlushRequested()
    {
        lock (_flushWaiters)
        {
            return _flushWaiters.Count > 0;
        }
    }

    private void CompleteFlushWaiters()
    {
        lock (_flushWaiters)
        {
            foreach (var waiter in _flushWaiters)
            {
                waiter.TrySetResult();
            }

            _flushWaiters.Clear();
        }
    }

    private async Task SendAndReleaseAsync(List<byte[]> batch)
    {
        try
        {
            await SendAsync(batch).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Add(ref _inFlight, -batch.Count);
            Interlocked.Decrement(ref _sends);
            _slots.Release();
            _buffer.Wake();
        }
    }

    /// <summary>Delivers one batch: never throws, and accounts for every event in it as sent, refused or lost.</summary>
    private async Task SendAsync(List<byte[]> batch)
    {
        var cancellation = _stopSending.Token;
        using var activity = HermesClientMetrics.Source.StartActivity("hermes.client.send", ActivityKind.Producer);
        activity?.SetTag("hermes.batch.size", batch.Count);
        activity?.SetTag("hermes.ack", _settings.DurableAck ? "durable" : "queued");
        var started = _time.GetTimestamp();
        var progress = new Progress();
        string outcome;
        while (true)
        {
            try
            {
                // Halves of a split batch are answered in order, so what is answered is always a prefix.
                await PostAsync(batch, progress.Answered, batch.Count - progress.Answered, progress, cancellation).ConfigureAwait(false);
                outcome = progress.Refused == 0 ? "sent" : progress.Refused == batch.Count ? "refused" : "partly_refused";
                break;
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                _metrics.OnLost(batch.Count - progress.Answered);
                outcome = "lost";
                break;
            }
            catch (Exception ex)
            {
                // Not a failure the retry strategy handles (it retries those without end): for example service
                // discovery has no address for Hermes yet. The batch is kept and sent again.
                var delay = TimeSpan.FromSeconds(Math.Min(5, _settings.MaxRetryDelay.TotalSeconds));
                _delivery.OnAttemptFailed(ex.GetType().Name + ": " + ex.Message);
                Log.SendFailed(_logger, batch.Count - progress.Answered, delay, ex);
                try
                {
                    await Task.Delay(delay, _time, cancellation).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    _metrics.OnLost(batch.Count - progress.Answered);
                    outcome = "lost";
                    break;
                }
            }
        }

        activity?.SetTag("hermes.client.outcome", outcome);
        if (outcome is not "sent")
        {
            activity?.SetStatus(ActivityStatusCode.Error, outcome);
        }

        _metrics.OnSendFinished(_time.GetElapsedTime(started), outcome);
    }

    /// <summary>Posts <paramref name="count"/> lines from <paramref name="offset"/> and handles Hermes's final answer.</summary>
    private async Task PostAsync(List<byte[]> batch, int offset, int count, Progress progress, CancellationToken cancellation)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _batchUri) { Content = BatchEncoder.Encode(batch, offset, count) };
        using var response = await _http.CreateClient(HttpClientName)
            .SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellation).ConfigureAwait(false);

        if (response.IsSuccessStatusCode)
        {
            OnAnswered();
            var answer = await HermesAnswers.ReadAcceptedAsync(response, cancellation).ConfigureAwait(false);
            var rejected = answer?.Rejected ?? [];
            foreach (var refusal in rejected)
            {
                _metrics.OnRefused(refusal.Field, refusal.Rule, 1);
            }

            if (rejected.Length > 0)
            {
                var first = rejected[0];
                var id = first.Index >= 0 && first.Index < count ? EventLine.IdOf(batch[offset + first.Index]) : "?";
                Log.EventsRejected(_logger, rejected.Length, count, id, first.Field, first.Rule, first.Error);
            }

            _metrics.OnSent(count - rejected.Length);
            progress.Answer(count, rejected.Length);
            return;
        }

        if (HermesResilience.IsRetryableStatus(response.StatusCode) && response.StatusCode != HttpStatusCode.TooManyRequests)
        {
            // The retry strategy returns a retryable answer only when it was cancelled: the shutdown deadline.
            cancellation.ThrowIfCancellationRequested();
            throw new HttpRequestException($"Hermes answered {(int)response.StatusCode} and the retries ended.");
        }

        OnAnswered();
        var problem = await HermesAnswers.ReadProblemAsync(response, cancellation).ConfigureAwait(false);
        var (field, rule) = problem.Reason(response.StatusCode);
        if (response.StatusCode == HttpStatusCode.TooManyRequests && rule != "burst")
        {
            cancellation.ThrowIfCancellationRequested();
            throw new HttpRequestException("Hermes answered 429 and the retries ended.");
        }

        // Too many events or bytes for one request (413), or more than the key's whole rate-limit burst (429
        // events/burst): nothing was queued, so the halves are sent instead, down to single events.
        if ((response.StatusCode == HttpStatusCode.RequestEntityTooLarge || rule == "burst") && count > 1)
        {
            if (Interlocked.Exchange(ref _splitLogged, 1) == 0)
            {
                Log.SplittingBatch(_logger, count, (int)response.StatusCode, field, rule);
            }

            var half = count / 2;
            await PostAsync(batch, offset, half, progress, cancellation).ConfigureAwait(false);
            await PostAsync(batch, offset + half, count - half, progress, cancellation).ConfigureAwait(false);
            return;
        }

        _metrics.OnRefused(field, rule, count);
        Log.BatchRefused(_logger, count, (int)response.StatusCode, field, rule, problem.Title, problem.Detail);
        progress.Answer(count, count);
    }

    private void OnAnswered()
    {
        if (_delivery.OnAnswered() is { } outage)
        {
            Log.Recovered(_logger, outage, _buffer.Count);
        }
    }

    /// <summary>How much of one batch Hermes has answered so far.</summary>
    private sealed class Progress
    {
        public int Answered { get; private set; }

        public int Refused { get; private set; }

        public void Answer(int events, int refused)
        {
            Answered += events;
            Refused += refused;
        }
    }
}

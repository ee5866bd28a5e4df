namespace Hermes.Client.Diagnostics;

/// <summary>
/// Whether Hermes is taking the client's batches, for the health check and the recovery log line: when attempts
/// started failing and why, when the buffer last dropped an event. Written by the sender and the retry strategy.
/// </summary>
internal sealed class DeliveryState(TimeProvider time)
{
    private readonly Lock _lock = new();
    private long _failingSince;       // timestamp of the first failed attempt since the last answer; 0 while none
    private string? _lastFailure;
    private long _lastDrop;           // timestamp of the last Track() dropped for a full buffer; 0 if never

    /// <summary>How recently a drop still makes the client unhealthy.</summary>
    public static readonly TimeSpan DropWindow = TimeSpan.FromSeconds(10);

    public void OnAttemptFailed(string reason)
    {
        lock (_lock)
        {
            if (_failingSince == 0)
            {
                _failingSince = time.GetTimestamp();
            }

            _lastFailure = reason;
        }
    }

    /// <summary>Hermes answered a batch; returns how long it had been failing before, if it had.</summary>
    public TimeSpan? OnAnswered()
    {
        lock (_lock)
        {
            if (_failingSince == 0)
            {
                return null;
            }

            var outage = time.GetElapsedTime(_failingSince);
            _failingSince = 0;
            _lastFailure = null;
            return outage;
        }
    }

    public void OnDropped() => Volatile.Write(ref _lastDrop, time.GetTimestamp());

    /// <summary>Since when, and why, attempts have been failing; null while Hermes answers.</summary>
    public (TimeSpan For, string Reason)? Failing
    {
        get
        {
            lock (_lock)
            {
                return _failingSince == 0 ? null : (time.GetElapsedTime(_failingSince), _lastFailure ?? "unknown");
            }
        }
    }

    public bool DroppedRecently
    {
        get
        {
            var last = Volatile.Read(ref _lastDrop);
            return last != 0 && time.GetElapsedTime(last) < DropWindow;
        }
    }
}

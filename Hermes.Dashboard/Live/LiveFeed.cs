using Hermes.Contracts;
using Hermes.Dashboard.Ingest;
using Hermes.Dashboard.Views;

namespace Hermes.Dashboard.Live;

/// <summary>The live state every page renders, and a notification when it changes.</summary>
public interface ILiveFeed
{
    DashboardState Current { get; }

    /// <summary>Raised on a background thread; handlers must marshal to their own context and return quickly.</summary>
    event Action<DashboardState>? Changed;
}

/// <summary>
/// The dashboard process's single subscription to ingest's <c>/aggregates/stream</c>, shared by every Blazor
/// circuit: ten open pages cost ingest one stream. Reconnects with capped exponential backoff, declares ingest
/// unreachable when the stream fails or stays silent for <see cref="SilenceLimit"/>, and every
/// <see cref="DatabaseRefresh"/> asks for the persisted rollups across replicas.
/// </summary>
public sealed partial class LiveFeed(
    IngestStream stream,
    IngestClient client,
    DashboardOptions options,
    TimeProvider time,
    ILogger<LiveFeed> logger) : BackgroundService, ILiveFeed
{
    /// <summary>Ingest pushes every second; three missed beats means it is gone, even if TCP has not noticed.</summary>
    public static readonly TimeSpan SilenceLimit = TimeSpan.FromSeconds(3);

    /// <summary>Rollups change once per flush; a query every 5 s costs the database next to nothing.</summary>
    public static readonly TimeSpan DatabaseRefresh = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan LastRetry = TimeSpan.FromSeconds(5);

    private DashboardState _current = DashboardState.Initial with { IngestUrl = options.IngestUrl };
    private MinuteCounts? _persisted;
    private long _nextDatabaseCheck;

    public DashboardState Current => Volatile.Read(ref _current);

    public event Action<DashboardState>? Changed;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var retry = FirstRetry;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                using var silence = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                silence.CancelAfter(SilenceLimit);
                await foreach (var snapshot in stream.ReadAsync(silence.Token))
                {
                    silence.CancelAfter(SilenceLimit);
                    retry = FirstRetry;
                    Receive(snapshot);
                    await RefreshPersistedIfDueAsync(snapshot, silence.Token);
                }

                MarkUnreachable("ingest closed the stream");
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (OperationCanceledException)
            {
                MarkUnreachable($"no data from ingest for {SilenceLimit.TotalSeconds:0} s");
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or System.Text.Json.JsonException)
            {
                MarkUnreachable(ex.Message);
            }

            try
            {
                await Task.Delay(retry, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, LastRetry.Ticks));
        }
    }

    private void Receive(StatsSnapshot snapshot)
    {
        var previous = Current;
        var history = previous.RateHistory.Count < DashboardState.RateHistoryLength
            ? [.. previous.RateHistory, snapshot.EventsPerSecond]
            : previous.RateHistory.Skip(1).Append(snapshot.EventsPerSecond).ToArray();
        var persisted = Volatile.Read(ref _persisted);
        Publish(previous with
        {
            Status = FeedStatus.Live,
            Snapshot = snapshot,
            Counts = persisted ?? MinuteCounts.Parse(snapshot.Aggregates),
            Source = persisted is null ? CountsSource.Memory : CountsSource.Database,
            RateHistory = history,
            LastReceived = time.GetUtcNow(),
            Error = null,
        });
    }

    private async Task RefreshPersistedIfDueAsync(StatsSnapshot snapshot, CancellationToken cancellationToken)
    {
        var now = time.GetTimestamp();
        if (now < _nextDatabaseCheck)
        {
            return;
        }

        _nextDatabaseCheck = now + (long)(DatabaseRefresh.TotalSeconds * time.TimestampFrequency);
        try
        {
            var from = MinuteCounts.MinuteOf(snapshot.Time) - (59 * 60);
            var rollups = await client.GetPersistedAggregatesAsync(from, cancellationToken);
            var persisted = rollups is null ? null : MinuteCounts.Parse(rollups);
            if (persisted is null != Volatile.Read(ref _persisted) is null)
            {
                LogSource(logger, persisted is null ? CountsSource.Memory : CountsSource.Database);
            }

            Volatile.Write(ref _persisted, persisted);
        }
        catch (Exception ex) when (ex is HttpRequestException or System.Text.Json.JsonException or TimeoutException)
        {
            // Keep what we had: the stream decides whether ingest is reachable.
            LogRollupsFailed(logger, ex.Message);
        }
    }

    private void MarkUnreachable(string reason)
    {
        var previous = Current;
        if (previous.Status != FeedStatus.Unreachable)
        {
            LogUnreachable(logger, reason);
        }

        Publish(previous with { Status = FeedStatus.Unreachable, Error = reason });
    }

    private void Publish(DashboardState state)
    {
        Volatile.Write(ref _current, state);
        Changed?.Invoke(state);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ingest unreachable: {Reason}; retrying with backoff")]
    private static partial void LogUnreachable(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Per-minute counts now come from {Source}")]
    private static partial void LogSource(ILogger logger, CountsSource source);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Reading persisted rollups failed: {Reason}")]
    private static partial void LogRollupsFailed(ILogger logger, string reason);
}

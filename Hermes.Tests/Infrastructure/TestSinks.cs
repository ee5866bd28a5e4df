using System.Collections.Concurrent;
using Hermes.Ingest.Events;
using Hermes.Ingest.Sinks;

namespace Hermes.Tests.Infrastructure;

/// <summary>A sink that keeps every event it is given, and can be held shut to back the pipeline up.</summary>
public sealed class RecordingSink : IEventSink
{
    private readonly ConcurrentQueue<EventRecord> _events = new();
    private readonly ConcurrentQueue<int> _batchSizes = new();
    private readonly SemaphoreSlim _gate;
    private readonly TimeSpan _delay;

    /// <param name="held">Start closed: every write waits until <see cref="Open"/>.</param>
    /// <param name="delay">Time each write takes, to make draining observable.</param>
    public RecordingSink(bool held = false, TimeSpan delay = default)
    {
        _gate = new SemaphoreSlim(held ? 0 : int.MaxValue / 2);
        _delay = delay;
    }

    public string Name => "recording";

    public IReadOnlyCollection<EventRecord> Events => _events;

    public IReadOnlyCollection<int> BatchSizes => _batchSizes;

    public int FlushCount { get; private set; }

    public void Open() => _gate.Release(int.MaxValue / 2);

    public async ValueTask WriteAsync(ReadOnlyMemory<EventRecord> batch, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        _gate.Release();
        if (_delay > TimeSpan.Zero)
        {
            await Task.Delay(_delay, cancellationToken);
        }

        foreach (var e in batch.Span)
        {
            _events.Enqueue(e);
        }

        _batchSizes.Enqueue(batch.Length);
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        FlushCount++;
        return ValueTask.CompletedTask;
    }
}

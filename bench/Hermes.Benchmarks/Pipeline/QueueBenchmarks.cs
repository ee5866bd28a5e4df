using BenchmarkDotNet.Attributes;
using Hermes.Ingest.Events;
using Hermes.Ingest.Pipeline;

namespace Hermes.Benchmarks.Pipeline;

/// <summary>Queue cost per event: reserve + enqueue a 1,000-event batch, then dequeue it as a worker does.</summary>
[MemoryDiagnoser]
public class QueueBenchmarks
{
    private readonly EventQueue _queue = new(100_000, wakeEvery: 1_000, workers: 8);
    private readonly EventRecord[] _into = new EventRecord[1_000];
    private EventRecord[] _batch = [];

    [GlobalSetup]
    public void Setup() => _batch = Samples.Records(1_000);

    [Benchmark(OperationsPerInvoke = 1_000)]
    public int EnqueueDequeueBatch()
    {
        _queue.TryReserve(_batch.Length);
        _queue.Enqueue(_batch);
        return _queue.Dequeue(_into);
    }
}

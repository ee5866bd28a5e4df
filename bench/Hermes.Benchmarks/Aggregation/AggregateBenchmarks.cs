using BenchmarkDotNet.Attributes;
using Hermes.Ingest.Aggregation;
using Hermes.Ingest.Events;

namespace Hermes.Benchmarks.Aggregation;

/// <summary>Worker CPU per event in the aggregator: a 1,000-event batch spread over 4 types and 2 minutes.</summary>
[MemoryDiagnoser]
public class AggregateBenchmarks
{
    private readonly MinuteAggregator _aggregator = new(Samples.Settings, Samples.Types, TimeProvider.System);
    private EventRecord[] _batch = [];

    [GlobalSetup]
    public void Setup() => _batch = Samples.Records(1_000).Select(e => e with { Timestamp = Samples.Now - (e.Timestamp % 2 * 60) }).ToArray();

    [Benchmark(OperationsPerInvoke = 1_000)]
    public void AddBatch() => _aggregator.Add(_batch);
}

using BenchmarkDotNet.Attributes;
using Hermes.Ingest.Events;
using Hermes.Ingest.Sinks.Durable;

namespace Hermes.Benchmarks.Sinks;

/// <summary>Encoding a 1,000-event batch for the disk spill (length-prefixed fields + CRC32).</summary>
[MemoryDiagnoser]
public class SpillEncodeBenchmarks
{
    private EventRecord[] _batch = [];

    [GlobalSetup]
    public void Setup() => _batch = Samples.Records(1_000);

    [Benchmark(OperationsPerInvoke = 1_000)]
    public int EncodeBatch() => SpillRecord.Encode(_batch, Samples.Types.Names).Length;
}

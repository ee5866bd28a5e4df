using BenchmarkDotNet.Attributes;
using Hermes.Ingest.Events;

namespace Hermes.Benchmarks.Events;

/// <summary>Intake's CPU per event: parse + validate, single body and a 1,000-event NDJSON batch.</summary>
[MemoryDiagnoser]
public class ParseBenchmarks
{
    private readonly EventParser _parser = new(Samples.Settings, Samples.Types);
    private readonly byte[] _single = Samples.Single();
    private readonly byte[] _batch = Samples.Ndjson(1_000);
    private readonly DateTimeOffset _now = DateTimeOffset.FromUnixTimeSeconds(Samples.Now);

    [Benchmark]
    public bool ParseSingle() => _parser.TryParseDocument(_single, Samples.Now, Samples.Now * 1000, out _, out _);

    [Benchmark(OperationsPerInvoke = 1_000)]
    public int ParseNdjsonBatch()
    {
        using var outcome = new BatchOutcome(10_000);
        BatchReader.ReadNdjson(_parser, _batch, _now, Samples.Options, outcome);
        return outcome.Count;
    }
}

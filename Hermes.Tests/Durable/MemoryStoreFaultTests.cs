using Hermes.Ingest.Sinks.Durable;
using Hermes.Ingest.Sinks.Postgres;
using Hermes.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Hermes.Tests.Durable;

/// <summary>
/// The durability contract with a destination that is not PostgreSQL: <see cref="MemoryBatchWriter"/> inside the
/// same durable layer, its outages and refusals switched on by the test. No database, no root: the fast loop runs these.
/// </summary>
public sealed class MemoryStoreFaultTests : DurableSinkFaultTests
{
    private readonly MemoryBatchWriter _store = new();

    protected override string PoisonPayload => $"{{\"{MemoryBatchWriter.PoisonMarker}\":true}}";

    protected override string PoisonReason => "^event p-13: the payload holds \"poison\"$";

    public override ValueTask InitializeAsync() => ValueTask.CompletedTask;

    protected override Task TakeDownAsync()
    {
        _store.Down = true;
        return Task.CompletedTask;
    }

    protected override Task BringBackAsync()
    {
        _store.Down = false;
        return Task.CompletedTask;
    }

    /// <summary>
    /// The settings go to Hermes as an operator gives them; the durable layer's are read by the same loader that reads
    /// them for PostgreSQL (its DSN only makes it read them), so both destinations run with the same breaker and spill.
    /// </summary>
    protected override HermesFactory Hermes(Dictionary<string, string?> settings)
    {
        settings["SPILL_DIR"] = Spill.Path;
        var durable = PostgresSinkOptionsLoader.Load(
            new ConfigurationBuilder().AddInMemoryCollection(settings).Build(),
            new Hermes.Ingest.Configuration.IngestOptions { DbDsn = "Host=unused" })!.Durable;
        return new HermesFactory(settings).WithServices(services =>
        {
            services.AddSingleton(_store);
            services.AddDurableSink<MemoryBatchWriter>(durable);
        });
    }

    protected override Task<IReadOnlyList<string>> StoredIdsAsync() => Task.FromResult<IReadOnlyList<string>>([.. _store.StoredIds]);

    protected override Task<IReadOnlyList<DeadLetter>> DeadLettersAsync() => Task.FromResult<IReadOnlyList<DeadLetter>>([.. _store.DeadLetters]);
}

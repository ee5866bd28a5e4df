using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Hermes.Ingest.Sinks.Durable;

public static class DurableSinkExtensions
{
    /// <summary>
    /// Makes <typeparamref name="TWriter"/> (registered by the caller) the sink, wrapped in the durable layer: breaker,
    /// spill, replay, crash ledger, bisection and dead letters, with <c>/health</c> readiness. Call after the pipeline's
    /// own hosted services: the host stops services in reverse order, so replay stops before the workers drain into
    /// the sink, and the run ledger, which the drain's final flush closes, keeps checkpointing until then.
    /// </summary>
    public static IServiceCollection AddDurableSink<TWriter>(this IServiceCollection services, DurableSinkOptions options)
        where TWriter : class, IBatchWriter
    {
        services.AddSingleton(options);
        services.AddSingleton<IBatchWriter>(provider => provider.GetRequiredService<TWriter>());
        services.AddSingleton<DurableSinkMetrics>();
        services.AddSingleton<WriteBreaker>();
        services.AddSingleton<SpillStore>();
        services.AddSingleton<RunLedger>();
        services.AddHostedService(provider => provider.GetRequiredService<RunLedger>());
        services.AddSingleton<DurableSink>();
        services.Replace(ServiceDescriptor.Singleton<IEventSink>(provider => provider.GetRequiredService<DurableSink>()));
        services.AddHostedService<SpillReplayer>();
        services.AddHealthChecks().AddCheck<DurableSinkHealthCheck>("sink", tags: ["ready"]);
        return services;
    }
}

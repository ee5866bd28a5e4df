using Hermes.Ingest.Aggregation;
using Hermes.Ingest.Configuration;
using Hermes.Ingest.Sinks.Durable;

namespace Hermes.Ingest.Sinks.Postgres;

public static class PostgresSinkExtensions
{
    /// <summary>
    /// Registers PostgreSQL as the sink, inside the durable layer (breaker, spill, replay, crash ledger), when
    /// <c>DB_DSN</c> or <c>ConnectionStrings:hermesdb</c> is set. Returns false (registering nothing) when neither is,
    /// so the caller keeps the in-memory sink. Call after the pipeline's own hosted services (see
    /// <see cref="DurableSinkExtensions.AddDurableSink{TWriter}"/>).
    /// </summary>
    public static bool AddPostgresSink(this WebApplicationBuilder builder, IngestOptions ingest)
    {
        if (PostgresSinkOptionsLoader.Load(builder.Configuration, ingest) is not { } options)
        {
            return false;
        }

        var services = builder.Services;
        services.AddLoadedOptions<PostgresSinkOptions, PostgresSinkOptionsValidator, PostgresSinkOptionsRules>(options);

        // Npgsql logs every command at Information: one line per batch at 100k+ events/s.
        builder.Logging.AddFilter("Npgsql", LogLevel.Warning);
        builder.AddNpgsqlDataSource(
            PostgresSinkOptions.ConnectionName,
            settings =>
            {
                settings.ConnectionString = options.ConnectionString;

                // Aspire's check turns /health red while the database is down; Hermes stays ready while it can
                // spill, which DurableSinkHealthCheck reports instead.
                settings.DisableHealthChecks = true;

                // Like ServiceDefaults: spans only when someone can read them (OTLP configured).
                settings.DisableTracing = string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
            },
            dataSource =>
            {
                dataSource.ConnectionStringBuilder.MaxPoolSize = options.MaxOpenConns;

                // Keep sessions across pool rentals: no DISCARD ALL for the server to run after every batch.
                dataSource.ConnectionStringBuilder.NoResetOnClose = true;

                // The rollup upsert and the insert path run once per batch: prepared once per connection instead of
                // parsed and planned every time.
                dataSource.ConnectionStringBuilder.MaxAutoPrepare = 10;

                // EventBatchWriter traces its COPY itself: a COPY refused because an event is already stored is a
                // normal retry, which Npgsql's span would show as an error.
                dataSource.ConfigureTracing(tracing => tracing.ConfigureCopyOperationFilter(
                    sql => !sql.StartsWith("COPY events ", StringComparison.Ordinal)));

                // The detail of a refused row ("\u0000 cannot be converted to text") is what dead_letters.error is for.
                dataSource.ConnectionStringBuilder.IncludeErrorDetail = true;
                if (!options.ConnectionString.Contains("Timeout", StringComparison.OrdinalIgnoreCase))
                {
                    // Npgsql's 15 s connect timeout would hold a worker that long per batch in an outage.
                    dataSource.ConnectionStringBuilder.Timeout = 5;
                }
            });

        services.AddSingleton<PostgresSinkMetrics>();
        services.AddSingleton<PostgresSchema>();
        services.AddSingleton<EventPartitions>();
        services.AddSingleton<EventBatchWriter>();
        services.AddSingleton<PostgresBatchWriter>();
        services.AddDurableSink<PostgresBatchWriter>(options.Durable);
        services.AddSingleton<PersistedRollups>();
        services.AddSingleton<IPersistedCounts>(provider => provider.GetRequiredService<PersistedRollups>());
        services.AddSingleton<PartitionMaintainer>();
        services.AddHostedService(provider => provider.GetRequiredService<PartitionMaintainer>());
        return true;
    }
}

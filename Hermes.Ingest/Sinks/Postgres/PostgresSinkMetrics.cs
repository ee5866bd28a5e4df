using System.Diagnostics.Metrics;

namespace Hermes.Ingest.Sinks.Postgres;

/// <summary>
/// PostgreSQL's own instruments on the <c>Hermes</c> meter: its time partitions and what retention removed. The
/// writes, breaker and spill are the durable layer's (<c>DurableSinkMetrics</c>). Counts are Interlocked longs read
/// at scrape time, and tests read the same longs.
/// </summary>
public sealed class PostgresSinkMetrics
{
    private readonly long[] _partitions = new long[PartitionedTable.All.Length];
    private readonly long[] _partitionsCreated = new long[PartitionedTable.All.Length];
    private readonly long[] _partitionsDropped = new long[PartitionedTable.All.Length];
    private long _retentionEventsDropped;

    public PostgresSinkMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(HermesTelemetry.MeterName);
        meter.CreateObservableGauge("hermes_db_partitions", () => ObservePerTable(_partitions), "{partition}",
            "Time partitions of each table (events, event_rollup_shards, dead_letters), the archive partition included.");
        meter.CreateObservableCounter("hermes_db_partitions_created", () => ObservePerTable(_partitionsCreated), "{partition}",
            "Partitions this instance created, ahead of time or for an event that needed one.");
        meter.CreateObservableCounter("hermes_retention_partitions_dropped", () => ObservePerTable(_partitionsDropped), "{partition}",
            "Partitions dropped by EVENT_RETENTION (events) or ROLLUP_RETENTION (rollups, dead letters).");
        meter.CreateObservableCounter("hermes_retention_events_dropped", () => RetentionEventsDropped, "{event}",
            "Stored events removed with the events partitions EVENT_RETENTION dropped (as counted by their rollups).");
    }

    public long Partitions(PartitionedTable table) => Volatile.Read(ref _partitions[table.Index]);

    public long PartitionsDropped(PartitionedTable table) => Volatile.Read(ref _partitionsDropped[table.Index]);

    public long RetentionEventsDropped => Volatile.Read(ref _retentionEventsDropped);

    public void SetPartitions(PartitionedTable table, int count) => Volatile.Write(ref _partitions[table.Index], count);

    public void OnPartitionCreated(PartitionedTable table) => Interlocked.Increment(ref _partitionsCreated[table.Index]);

    public void OnPartitionDropped(PartitionedTable table, long events)
    {
        Interlocked.Increment(ref _partitionsDropped[table.Index]);
        Interlocked.Add(ref _retentionEventsDropped, events);
    }

    private static IEnumerable<Measurement<long>> ObservePerTable(long[] values)
    {
        foreach (var table in PartitionedTable.All)
        {
            yield return new(Volatile.Read(ref values[table.Index]), new KeyValuePair<string, object?>("table", table.Name));
        }
    }
}

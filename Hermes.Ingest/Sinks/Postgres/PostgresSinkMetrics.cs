using System.Diagnostics.Metrics;

namespace Hermes.Ingest.Sinks.Postgres;

/// <summary>Why a write to the database failed; the <c>class</c> label of <c>hermes_db_write_failures_total</c>.</summary>
public enum WriteFailureClass
{
    /// <summary>Could not reach the server, or the connection broke (counts toward the breaker).</summary>
    Connectivity,

    /// <summary>A write ran past DB_WRITE_TIMEOUT (counts toward the breaker).</summary>
    Timeout,

    /// <summary>The server refused rows for their data (class 22/23); those rows were dead-lettered.</summary>
    Data,

    /// <summary>Anything else (permissions, a dropped table…): the batch is spilled and retried, the breaker untouched.</summary>
    Other,
}

/// <summary>Why events were dropped for good; the <c>reason</c> label of <c>hermes_spill_dropped_total</c>.</summary>
public enum DropReason
{
    /// <summary>The spill directory had reached SPILL_MAX_BYTES.</summary>
    SpillFull,

    /// <summary>Writing the spill failed (disk error).</summary>
    SpillError,

    /// <summary>A spill record failed its checksum or was cut short (power loss).</summary>
    Corrupt,

    /// <summary>The database refused even the dead-letter row.</summary>
    DeadLetterRefused,
}

/// <summary>
/// The sink's and spill's instruments on the <c>Hermes</c> meter. Counts are Interlocked longs read at scrape time,
/// like <c>IngestMetrics</c>, and tests read the same longs.
/// </summary>
public sealed class PostgresSinkMetrics
{
    private static readonly string[] FailureLabels = ["connectivity", "timeout", "data", "other"];
    private static readonly string[] DropLabels = ["spill_full", "spill_error", "corrupt", "dead_letter_refused"];

    private readonly long[] _failures = new long[FailureLabels.Length];
    private readonly long[] _dropped = new long[DropLabels.Length];
    private readonly Histogram<double> _copyDuration;
    private long _openRejects;
    private long _rowsWritten;
    private long _duplicates;
    private long _replayed;
    private long _deadLetters;
    private long _spillBytes;
    private long _spillEvents;
    private long _corruptRecords;
    private int _circuitState;
    private readonly long[] _partitions = new long[PartitionedTable.All.Length];
    private readonly long[] _partitionsCreated = new long[PartitionedTable.All.Length];
    private readonly long[] _partitionsDropped = new long[PartitionedTable.All.Length];
    private long _retentionEventsDropped;

    public PostgresSinkMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Microsoft.Extensions.Hosting.HermesTelemetry.MeterName);
        meter.CreateObservableGauge("hermes_db_circuit_state", () => CircuitState, null,
            "Database circuit breaker: 0 closed, 1 open, 2 half-open.");
        meter.CreateObservableCounter("hermes_db_circuit_open_rejects", () => OpenRejects, "{batch}",
            "Batches not sent to the database because the breaker was open (they were spilled).");
        meter.CreateObservableCounter("hermes_db_write_failures", ObserveFailures, "{batch}",
            "Failed database writes, by class.");
        meter.CreateObservableCounter("hermes_db_rows_written", () => RowsWritten, "{row}",
            "New rows committed to events (re-sent ids excluded).");
        meter.CreateObservableCounter("hermes_db_duplicates_skipped", () => Duplicates, "{row}",
            "Rows not inserted because their id was already stored.");
        meter.CreateObservableGauge("hermes_spill_bytes", () => SpillBytes, "By",
            "Bytes in the disk spill waiting for replay.");
        meter.CreateObservableGauge("hermes_spill_events", () => SpillEvents, "{event}",
            "Events in the disk spill waiting for replay.");
        meter.CreateObservableCounter("hermes_spill_replayed", () => Replayed, "{event}",
            "Spilled events written to the database by replay.");
        meter.CreateObservableCounter("hermes_dead_letters", () => DeadLetters, "{event}",
            "Events the database refused for their data, stored in dead_letters.");
        meter.CreateObservableCounter("hermes_spill_dropped", ObserveDropped, "{event}",
            "Events lost for good, by reason.");
        meter.CreateObservableCounter("hermes_spill_corrupt_records", () => CorruptRecords, "{record}",
            "Spill records skipped because their checksum failed or they were cut short.");
        meter.CreateObservableGauge("hermes_db_partitions", () => ObservePerTable(_partitions), "{partition}",
            "Time partitions of each table (events, event_rollup_shards, dead_letters), the archive partition included.");
        meter.CreateObservableCounter("hermes_db_partitions_created", () => ObservePerTable(_partitionsCreated), "{partition}",
            "Partitions this instance created, ahead of time or for an event that needed one.");
        meter.CreateObservableCounter("hermes_retention_partitions_dropped", () => ObservePerTable(_partitionsDropped), "{partition}",
            "Partitions dropped by EVENT_RETENTION (events) or ROLLUP_RETENTION (rollups, dead letters).");
        meter.CreateObservableCounter("hermes_retention_events_dropped", () => RetentionEventsDropped, "{event}",
            "Stored events removed with the events partitions EVENT_RETENTION dropped (as counted by their rollups).");
        _copyDuration = meter.CreateHistogram("hermes_db_copy_duration", "s", "Time to COPY and commit one batch.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
    }

    public int CircuitState => Volatile.Read(ref _circuitState);

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

    public long OpenRejects => Volatile.Read(ref _openRejects);

    public long RowsWritten => Volatile.Read(ref _rowsWritten);

    public long Replayed => Volatile.Read(ref _replayed);

    public long Duplicates => Volatile.Read(ref _duplicates);

    public long DeadLetters => Volatile.Read(ref _deadLetters);

    public long SpillBytes => Volatile.Read(ref _spillBytes);

    public long SpillEvents => Volatile.Read(ref _spillEvents);

    public long CorruptRecords => Volatile.Read(ref _corruptRecords);

    public long WriteFailures(WriteFailureClass failure) => Volatile.Read(ref _failures[(int)failure]);

    public long Dropped(DropReason reason) => Volatile.Read(ref _dropped[(int)reason]);

    public void SetCircuitState(int state) => Volatile.Write(ref _circuitState, state);

    public void OnOpenReject() => Interlocked.Increment(ref _openRejects);

    public void OnWriteFailed(WriteFailureClass failure) => Interlocked.Increment(ref _failures[(int)failure]);

    public void OnCommitted(int rows, long inserted, TimeSpan duration)
    {
        Interlocked.Add(ref _rowsWritten, inserted);
        Interlocked.Add(ref _duplicates, rows - inserted);
        _copyDuration.Record(duration.TotalSeconds);
    }

    public void OnDeadLettered() => Interlocked.Increment(ref _deadLetters);

    public void OnDropped(DropReason reason, long events) => Interlocked.Add(ref _dropped[(int)reason], events);

    public void OnCorruptRecord() => Interlocked.Increment(ref _corruptRecords);

    public void OnReplayed(int events) => Interlocked.Add(ref _replayed, events);

    public void OnSpillChanged(long bytes, long events)
    {
        Interlocked.Add(ref _spillBytes, bytes);
        Interlocked.Add(ref _spillEvents, events);
    }

    private static IEnumerable<Measurement<long>> ObservePerTable(long[] values)
    {
        foreach (var table in PartitionedTable.All)
        {
            yield return new(Volatile.Read(ref values[table.Index]), new KeyValuePair<string, object?>("table", table.Name));
        }
    }

    private IEnumerable<Measurement<long>> ObserveFailures()
    {
        for (var i = 0; i < FailureLabels.Length; i++)
        {
            yield return new(Volatile.Read(ref _failures[i]), new KeyValuePair<string, object?>("class", FailureLabels[i]));
        }
    }

    private IEnumerable<Measurement<long>> ObserveDropped()
    {
        for (var i = 0; i < DropLabels.Length; i++)
        {
            yield return new(Volatile.Read(ref _dropped[i]), new KeyValuePair<string, object?>("reason", DropLabels[i]));
        }
    }
}

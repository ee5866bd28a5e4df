using System.Diagnostics.Metrics;

namespace Hermes.Ingest.Sinks.Durable;

/// <summary>Why a write failed; the <c>class</c> label of <c>hermes_db_write_failures_total</c>.</summary>
public enum WriteFailureClass
{
    /// <summary>Could not reach the destination, or the connection broke (counts toward the breaker).</summary>
    Connectivity,

    /// <summary>A write ran past DB_WRITE_TIMEOUT (counts toward the breaker).</summary>
    Timeout,

    /// <summary>The destination refused rows for their data; those rows were dead-lettered.</summary>
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

    /// <summary>The destination refused even the dead-letter row (or keeps no dead letters).</summary>
    DeadLetterRefused,
}

/// <summary>
/// The durable layer's instruments on the <c>Hermes</c> meter: breaker, writes, dead letters and spill, whatever the
/// destination. Their names keep the <c>hermes_db_</c> prefix they had when PostgreSQL was the only durable sink:
/// dashboards and alerts use them. Counts are Interlocked longs read at scrape time, like <c>IngestMetrics</c>, and
/// tests read the same longs.
/// </summary>
public sealed class DurableSinkMetrics
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

    public DurableSinkMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(HermesTelemetry.MeterName);
        meter.CreateObservableGauge("hermes_db_circuit_state", () => CircuitState, null,
            "Breaker in front of the durable sink's writes: 0 closed, 1 open, 2 half-open.");
        meter.CreateObservableCounter("hermes_db_circuit_open_rejects", () => OpenRejects, "{batch}",
            "Batches not sent to the destination because the breaker was open (they were spilled).");
        meter.CreateObservableCounter("hermes_db_write_failures", ObserveFailures, "{batch}",
            "Failed writes to the destination, by class.");
        meter.CreateObservableCounter("hermes_db_rows_written", () => RowsWritten, "{row}",
            "New events stored (events already stored, sent again, excluded).");
        meter.CreateObservableCounter("hermes_db_duplicates_skipped", () => Duplicates, "{row}",
            "Events not stored again because their (id, timestamp) was already stored.");
        meter.CreateObservableGauge("hermes_spill_bytes", () => SpillBytes, "By",
            "Bytes in the disk spill waiting for replay.");
        meter.CreateObservableGauge("hermes_spill_events", () => SpillEvents, "{event}",
            "Events in the disk spill waiting for replay.");
        meter.CreateObservableCounter("hermes_spill_replayed", () => Replayed, "{event}",
            "Spilled events written to the destination by replay.");
        meter.CreateObservableCounter("hermes_dead_letters", () => DeadLetters, "{event}",
            "Events the destination refused for their data, stored as dead letters.");
        meter.CreateObservableCounter("hermes_spill_dropped", ObserveDropped, "{event}",
            "Events lost for good, by reason.");
        meter.CreateObservableCounter("hermes_spill_corrupt_records", () => CorruptRecords, "{record}",
            "Spill records skipped because their checksum failed or they were cut short.");
        _copyDuration = meter.CreateHistogram("hermes_db_copy_duration", "s", "Time to write one batch (PostgreSQL: connect, COPY and commit).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
    }

    public int CircuitState => Volatile.Read(ref _circuitState);

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

    public void OnWritten(int rows, long inserted, TimeSpan duration)
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

using System.Diagnostics.Metrics;

namespace Hermes.Ingest.Aggregation;

/// <summary>The aggregator's instruments on the <c>Hermes</c> meter, read from the aggregator at scrape time.</summary>
public static class AggregateInstruments
{
    /// <summary>Publishes <c>hermes_aggregate_buckets</c> and <c>hermes_aggregate_buckets_evicted_total</c>.</summary>
    public static MinuteAggregator ObservedOn(this MinuteAggregator aggregator, IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(HermesTelemetry.MeterName);
        meter.CreateObservableGauge("hermes_aggregate_buckets", () => aggregator.BucketCount, "{bucket}",
            "Live (type, minute) counts held in memory.");
        meter.CreateObservableCounter("hermes_aggregate_buckets_evicted", () => aggregator.EvictedBuckets, "{bucket}",
            "(type, minute) counts dropped by AGGREGATE_RETENTION or MAX_AGGREGATE_BUCKETS.");
        return aggregator;
    }
}

using System.Diagnostics.Metrics;

namespace Hermes.Ingest.Pipeline;

/// <summary>The queue's gauges on the <c>Hermes</c> meter, read from the queue itself at scrape time.</summary>
public static class QueueInstruments
{
    /// <summary>Publishes <c>hermes_queue_length</c>, <c>hermes_queue_capacity</c> and <c>hermes_queue_oldest_age_seconds</c>.</summary>
    public static EventQueue ObservedOn(this EventQueue queue, IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(HermesTelemetry.MeterName);
        meter.CreateObservableGauge("hermes_queue_length", () => queue.Length, "{event}",
            "Events waiting in the queue.");
        meter.CreateObservableGauge("hermes_queue_capacity", () => (long)queue.Capacity, "{event}",
            "QUEUE_SIZE: the most events the queue holds.");
        meter.CreateObservableGauge("hermes_queue_oldest_age", () => queue.HeadAge?.TotalSeconds ?? 0, "s",
            "How long the oldest queued event has waited.");
        return queue;
    }
}

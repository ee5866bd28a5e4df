namespace Hermes.Ingest.Aggregation;

/// <summary>
/// Per-minute counts a durable store keeps across restarts and replicas, for <c>GET /aggregates?source=db</c>.
/// Registered only when the sink keeps them (PostgreSQL's rollups).
/// </summary>
public interface IPersistedCounts
{
    /// <summary>Same filters and order as <see cref="MinuteAggregator.Snapshot"/>: minute, then type.</summary>
    /// <exception cref="CountsUnavailableException">The store cannot be read right now.</exception>
    Task<List<AggregateCount>> ReadAsync(string? type, long? from, long? to, CancellationToken cancellationToken);
}

/// <summary>The persisted counts cannot be read right now (the store is down or too slow); memory still answers.</summary>
public sealed class CountsUnavailableException(Exception inner) : Exception("The persisted counts cannot be read right now.", inner);

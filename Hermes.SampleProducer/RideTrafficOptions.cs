using System.ComponentModel.DataAnnotations;

namespace Hermes.SampleProducer;

/// <summary>How much traffic the sample producer makes (<c>Hermes:SampleProducer</c>).</summary>
public sealed class RideTrafficOptions
{
    public const string SectionName = "Hermes:SampleProducer";

    /// <summary>The average rate; the actual one swings between about 0.3 and 2.5 times it.</summary>
    [Range(1, 5_000)]
    public int EventsPerSecond { get; set; } = 80;

    /// <summary>How many different riders (user ids) the events come from.</summary>
    [Range(1, 1_000_000)]
    public int Riders { get; set; } = 2_000;
}

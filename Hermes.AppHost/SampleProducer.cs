using Microsoft.Extensions.Configuration;

namespace Hermes.AppHost;

/// <summary>
/// Hermes.SampleProducer in local runs: a ride-hailing app's riders sending a varying mix of the four event types
/// through Hermes.Client, so the dashboards show a live system on first run. Never in a deployment (publish mode
/// leaves it out of the manifest); <c>Hermes:SampleProducer:Enabled=false</c> turns it off locally, and
/// <c>Hermes:SampleProducer:EventsPerSecond</c> sets its average rate.
/// </summary>
internal static class SampleProducer
{
    public const string ResourceName = "sample-producer";

    public static bool SampleProducerEnabled(this IDistributedApplicationBuilder builder)
    {
        if (builder.ExecutionContext.IsPublishMode)
        {
            return false;
        }

        var value = builder.Configuration["Hermes:SampleProducer:Enabled"];
        if (string.IsNullOrWhiteSpace(value))
        {
            return true;
        }

        return bool.TryParse(value, out var enabled)
            ? enabled
            : throw new DistributedApplicationException($"Hermes:SampleProducer:Enabled={value} is invalid: expected true or false.");
    }

    /// <param name="apiKeys">Ingest's producer keys, when configured: the producer then gets a key of its own, added to them.</param>
    public static void AddSampleProducer(this IDistributedApplicationBuilder builder, IResourceBuilder<ProjectResource> ingest,
        IResourceBuilder<ParameterResource>? apiKeys)
    {
        if (!builder.SampleProducerEnabled())
        {
            return;
        }

        var producer = builder.AddProject<Projects.Hermes_SampleProducer>(ResourceName)
            .WithoutHttpsCertificate()
            // Service discovery: Hermes.Client posts to https+http://ingest, which this resolves (any replica).
            .WithReference(ingest)
            // Its first batches would only be retried until ingest answers.
            .WaitFor(ingest);

        if (builder.Configuration["Hermes:SampleProducer:EventsPerSecond"] is { Length: > 0 } rate)
        {
            producer.WithEnvironment("Hermes__SampleProducer__EventsPerSecond", rate);
        }

        if (apiKeys is not null)
        {
            // A key of its own, made for this run and added to ingest's list, so nobody has to hand it one of theirs
            // and its traffic is labelled "sample-producer" in ingest's per-key metrics.
            var key = builder.AddParameter("sample-producer-key", Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)), secret: true);
            ingest.WithEnvironment("API_KEYS", ReferenceExpression.Create($"{apiKeys.Resource},sample-producer:{key.Resource}"));
            producer.WithEnvironment("Hermes__Client__ApiKey", key);
        }
    }
}

using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Hermes.Ingest.Configuration;

/// <summary>Checks the attributes on <see cref="IngestOptions"/>' properties; the body is source-generated.</summary>
[OptionsValidator]
public sealed partial class IngestOptionsValidator : IValidateOptions<IngestOptions>;

/// <summary>
/// The rules between engine settings, all in one place. Each failure names the setting it is reported against first,
/// then the others it depends on (so a rule stays quiet while one of them is itself invalid).
/// </summary>
public sealed class IngestOptionsRules : IValidateOptions<IngestOptions>
{
    public ValidateOptionsResult Validate(string? name, IngestOptions options)
    {
        var result = new ValidateOptionsResultBuilder();
        if (options.DebugEndpoints && options.AdminApiKeys.Length == 0)
        {
            result.AddResult(new ValidationResult(
                "/debug/* exposes process memory, so it needs ADMIN_API_KEYS (sent as X-Api-Key or Authorization: Bearer)",
                [nameof(IngestOptions.DebugEndpoints), nameof(IngestOptions.AdminApiKeys)]));
        }

        if (options.MaxBatchEvents > options.QueueSize)
        {
            result.AddResult(new ValidationResult(
                $"must not exceed QUEUE_SIZE ({options.QueueSize}), or a full batch could never be queued",
                [nameof(IngestOptions.MaxBatchEvents), nameof(IngestOptions.QueueSize)]));
        }

        if (options.SegmentEventMap.FirstOrDefault(p => !options.EventTypes.Contains(p.Value, StringComparer.Ordinal)) is { Key: not null } unmapped)
        {
            result.AddResult(new ValidationResult(
                $"{unmapped.Key}={unmapped.Value}: '{unmapped.Value}' is not one of EVENT_TYPES ({string.Join(", ", options.EventTypes)})",
                [nameof(IngestOptions.SegmentEventMap), nameof(IngestOptions.EventTypes)]));
        }

        return result.Build();
    }
}

using System.Globalization;
using Microsoft.Extensions.Options;

namespace Hermes.Client;

/// <summary>
/// Checks every setting at registration, so a producer fails at startup, not at its first event, with one line per
/// bad setting that names it and its value the way Hermes names its own (<c>Hermes:Client:MaxBatchEvents=0 is
/// invalid: …</c>). The API key's value is never repeated.
/// </summary>
internal static class HermesClientSettingsValidator
{
    // Hermes's own defaults bound what a request may carry (MAX_BATCH_EVENTS, MAX_BATCH_BYTES).
    private const int MaxBatchEventsLimit = 10_000;
    private const int MaxBatchBytesLimit = 16 << 20;

    public static void ThrowIfInvalid(HermesClientSettings settings)
    {
        var failures = Validate(settings);
        if (failures.Count > 0)
        {
            throw new OptionsValidationException(HermesClientSettings.SectionName, typeof(HermesClientSettings), failures);
        }
    }

    public static List<string> Validate(HermesClientSettings s)
    {
        var failures = new List<string>();

        if (s.Endpoint is null)
        {
            failures.Add($"{Key(nameof(s.Endpoint))} is missing: give Hermes's address, for example http://localhost:8080.");
        }
        else if (!s.Endpoint.IsAbsoluteUri || s.Endpoint.Scheme is not ("http" or "https" or "https+http" or "http+https"))
        {
            failures.Add($"{Key(nameof(s.Endpoint))}={s.Endpoint} is invalid: expected an absolute http or https address, or https+http://<service> for service discovery.");
        }

        if (s.ApiKey is { } key && (key.Length < 16 || key.Any(c => c is < '!' or > '~' or ',')))
        {
            failures.Add($"{Key(nameof(s.ApiKey))}=(redacted) is invalid: a Hermes key is at least 16 printable ASCII characters without spaces or commas.");
        }

        if (string.IsNullOrEmpty(s.ApiKeyHeaderName) || s.ApiKeyHeaderName.Any(c => c is <= ' ' or > '~' or ':' or '(' or ')' or ',' or '/' or ';' or '=' or '"'))
        {
            failures.Add($"{Key(nameof(s.ApiKeyHeaderName))}={s.ApiKeyHeaderName} is invalid: expected an HTTP header name such as X-Api-Key.");
        }

        Range(failures, nameof(s.BufferCapacity), s.BufferCapacity, 1, 10_000_000);
        Range(failures, nameof(s.MaxBatchEvents), s.MaxBatchEvents, 1, MaxBatchEventsLimit);
        Range(failures, nameof(s.MaxBatchBytes), s.MaxBatchBytes, 1_024, MaxBatchBytesLimit);
        Range(failures, nameof(s.MaxConcurrentRequests), s.MaxConcurrentRequests, 1, 16);
        Range(failures, nameof(s.FlushInterval), s.FlushInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1));
        Range(failures, nameof(s.AttemptTimeout), s.AttemptTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
        Range(failures, nameof(s.MaxRetryDelay), s.MaxRetryDelay, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
        Range(failures, nameof(s.ShutdownTimeout), s.ShutdownTimeout, TimeSpan.Zero, TimeSpan.FromMinutes(10));
        return failures;
    }

    private static string Key(string property) => $"{HermesClientSettings.SectionName}:{property}";

    private static void Range(List<string> failures, string name, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{Key(name)}={value} is invalid: expected a whole number between {min} and {max}."));
        }
    }

    private static void Range(List<string> failures, string name, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{Key(name)}={value} is invalid: expected a duration between {min} and {max} (hh:mm:ss.fff)."));
        }
    }
}

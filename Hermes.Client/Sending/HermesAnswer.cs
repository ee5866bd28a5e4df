using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Hermes.Client.Sending;

/// <summary><c>{"accepted":N,"durable":true?,"rejected":[…]?}</c>: Hermes's answer to a batch it queued.</summary>
internal sealed record AcceptedAnswer(int Accepted, bool Durable, RejectedEvent[]? Rejected);

/// <summary>One refused event of a queued batch: its 0-based line, and the field and rule it broke.</summary>
internal sealed record RejectedEvent(int Index, string Field, string Rule, string? Error);

/// <summary>Hermes's RFC 9457 problem: every 4xx and 5xx names what was wrong and how to fix it.</summary>
internal sealed record ProblemAnswer(string? Type, string? Title, int Status, string? Detail, string? Field, string? Rule)
{
    /// <summary>The metric label and log name of what was refused: the problem's field and rule, else its kind or status.</summary>
    public (string Field, string Rule) Reason(HttpStatusCode status) =>
        (Field ?? "-", Rule ?? (Type is { } type && type.LastIndexOf(':') is var colon and >= 0 ? type[(colon + 1)..] : ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture)));
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(AcceptedAnswer))]
[JsonSerializable(typeof(ProblemAnswer))]
internal sealed partial class HermesAnswerJson : JsonSerializerContext;

internal static class HermesAnswers
{
    /// <summary>
    /// The problem in a refusal, or an empty one when the body is not Hermes's (a proxy's page). Read from the
    /// buffered bytes, not a stream: HttpContent hands out one read stream, so the retry predicate reading it first
    /// would leave the sender an empty one.
    /// </summary>
    public static async Task<ProblemAnswer> ReadProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken) =>
        await ReadAsync(response, HermesAnswerJson.Default.ProblemAnswer, cancellationToken).ConfigureAwait(false) ?? Empty(response);

    public static Task<AcceptedAnswer?> ReadAcceptedAsync(HttpResponseMessage response, CancellationToken cancellationToken) =>
        ReadAsync(response, HermesAnswerJson.Default.AcceptedAnswer, cancellationToken);

    private static async Task<T?> ReadAsync<T>(HttpResponseMessage response, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            await response.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            return body.Length == 0 ? null : JsonSerializer.Deserialize(body, type);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException)
        {
            return null;
        }
    }

    private static ProblemAnswer Empty(HttpResponseMessage response) =>
        new(null, response.ReasonPhrase, (int)response.StatusCode, null, null, null);
}

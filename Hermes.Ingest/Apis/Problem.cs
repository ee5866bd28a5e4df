using System.Globalization;
using System.Text.Json;

namespace Hermes.Ingest.Apis;

/// <summary>
/// An RFC 9457 <c>application/problem+json</c> answer: a title that names what was wrong (the field and the rule),
/// a detail that says how to fix it, and for a 503 or 429 when to come back. Every one Hermes sends is made by a
/// named factory in <see cref="Problems"/>.
/// <para>
/// Written by hand with <see cref="Utf8JsonWriter"/>: it is on the overload path (503 at full rate), where a
/// ProblemDetails object and a reflection serializer per response would cost more than the request. A struct, so a
/// refusal allocates only its strings.
/// </para>
/// </summary>
public readonly record struct Problem(int Status, string Type, string Title, string Detail)
{
    public const string ContentType = "application/problem+json";

    /// <summary>Messages quote field names; keep 'type' readable instead of \u0027type\u0027.</summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The request field the problem is about (<c>timestamp</c>, <c>body</c>, <c>Content-Type</c>…).</summary>
    public string? Field { get; init; }

    /// <summary>The rule it broke (<c>range</c>, <c>max-size</c>…).</summary>
    public string? Rule { get; init; }

    /// <summary>Sent as <c>Retry-After</c> and as <c>retryAfterSeconds</c>.</summary>
    public int? RetryAfterSeconds { get; init; }

    /// <summary>Writes the problem as the response; <paramref name="extensions"/> adds members (a batch's <c>rejected</c>).</summary>
    public async Task WriteAsync(HttpContext context, Action<Utf8JsonWriter>? extensions = null)
    {
        var response = context.Response;
        response.StatusCode = Status;
        response.ContentType = ContentType;
        if (RetryAfterSeconds is { } seconds)
        {
            response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }

        using (var json = new Utf8JsonWriter(response.BodyWriter, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("type"u8, "urn:hermes:problem:" + Type);
            json.WriteString("title"u8, Title);
            json.WriteNumber("status"u8, Status);
            json.WriteString("detail"u8, Detail);
            if (Field is not null)
            {
                json.WriteString("field"u8, Field);
            }

            if (Rule is not null)
            {
                json.WriteString("rule"u8, Rule);
            }

            if (RetryAfterSeconds is { } retryAfter)
            {
                json.WriteNumber("retryAfterSeconds"u8, retryAfter);
            }

            extensions?.Invoke(json);
            json.WriteEndObject();
        }

        await response.BodyWriter.FlushAsync(context.RequestAborted);
    }
}

using System.Text.Json;

namespace Hermes.Ingest.Apis;

/// <summary>
/// Writes RFC 9457 <c>application/problem+json</c> bodies whose title names what was wrong and whose detail says
/// how to fix it. Written by hand with <see cref="Utf8JsonWriter"/>: it is on the overload path (503 at full
/// rate), where a ProblemDetails object and a reflection serializer per response would cost more than the request.
/// </summary>
public static class Problem
{
    public const string ContentType = "application/problem+json";

    /// <summary>Messages quote field names; keep 'type' readable instead of \u0027type\u0027.</summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static async Task WriteAsync(
        HttpContext context,
        int status,
        string type,
        string title,
        string detail,
        string? field = null,
        string? rule = null,
        int? retryAfterSeconds = null,
        Action<Utf8JsonWriter>? extensions = null)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = ContentType;
        if (retryAfterSeconds is { } seconds)
        {
            response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        using (var json = new Utf8JsonWriter(response.BodyWriter, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("type"u8, "urn:hermes:problem:" + type);
            json.WriteString("title"u8, title);
            json.WriteNumber("status"u8, status);
            json.WriteString("detail"u8, detail);
            if (field is not null)
            {
                json.WriteString("field"u8, field);
            }

            if (rule is not null)
            {
                json.WriteString("rule"u8, rule);
            }

            if (retryAfterSeconds is not null)
            {
                json.WriteNumber("retryAfterSeconds"u8, retryAfterSeconds.Value);
            }

            extensions?.Invoke(json);
            json.WriteEndObject();
        }

        await response.BodyWriter.FlushAsync(context.RequestAborted);
    }
}

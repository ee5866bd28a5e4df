using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Hermes.Ingest.Apis;

public static class OpenApiBodies
{
    /// <summary>The refusals every intake endpoint shares: admission, limits, rate limit and backpressure.</summary>
    public static RouteHandlerBuilder ProducesIntakeProblems(this RouteHandlerBuilder builder) => builder
        .ProducesProblem(StatusCodes.Status400BadRequest)
        .ProducesProblem(StatusCodes.Status401Unauthorized)
        .ProducesProblem(StatusCodes.Status408RequestTimeout)
        .ProducesProblem(StatusCodes.Status429TooManyRequests)
        .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
        .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
        .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    /// <summary>
    /// Documents a request body without <c>Accepts&lt;T&gt;()</c>: that metadata makes routing answer a bare 415
    /// before the handler runs, and Hermes's own 415 says which Content-Type to send.
    /// </summary>
    public static RouteHandlerBuilder DocumentsBody<T>(this RouteHandlerBuilder builder, params string[] contentTypes) =>
        builder.AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
        {
            var schema = await context.GetOrCreateSchemaAsync(typeof(T), null, cancellationToken);
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = contentTypes.ToDictionary(type => type, _ => new OpenApiMediaType { Schema = schema }),
            };
        });
}

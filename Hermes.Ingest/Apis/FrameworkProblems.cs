using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.WebUtilities;

namespace Hermes.Ingest.Apis;

/// <summary>
/// Errors ASP.NET Core raises itself (no such route, a wrong method, a query value that does not bind, an unhandled
/// exception) in the contract the handlers follow: RFC 9457 problem+json with a <c>urn:hermes:problem:</c> type, a
/// title saying what was wrong and a detail saying how to fix it. The framework's ProblemDetails service, status
/// code pages and exception handler write them (cold paths, so in the framework's shape); the intake's own refusals
/// keep the hand-written <see cref="Problem"/> writer, which answers 503s at full rate.
/// </summary>
public static class FrameworkProblems
{
    public static IServiceCollection AddFrameworkProblems(this IServiceCollection services)
    {
        services.AddProblemDetails(options => options.CustomizeProblemDetails = Describe);

        // Messages quote values; keep them readable as Problem's writer does (\u0022 otherwise).
        services.Configure<JsonOptions>(json => json.SerializerOptions.Encoder = Problem.WriterOptions.Encoder);

        // In Production a query value that does not bind (?seconds=x) is an empty 400; thrown instead, it reaches
        // the exception handler, whose problem can name the parameter and the value.
        services.Configure<RouteHandlerOptions>(routes => routes.ThrowOnBadRequest = true);
        return services;
    }

    /// <summary>Outermost: catches what the endpoints throw, then fills empty 4xx/5xx (404, 405) with a problem.</summary>
    public static WebApplication UseFrameworkProblems(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            StatusCodeSelector = exception => exception is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError,
            // A client's bad value is its 400, not an Error with a stack trace in Hermes's log; real failures still log.
            SuppressDiagnosticsCallback = context => context.Exception is BadHttpRequestException,
        });
        app.UseStatusCodePages();
        return app;
    }

    private static void Describe(ProblemDetailsContext context)
    {
        var http = context.HttpContext;
        var problem = context.ProblemDetails;
        var path = http.Request.Path.Value;
        var (kind, title, detail) = (context.Exception, problem.Status) switch
        {
            (BadHttpRequestException bad, _) => ("invalid-request", "Request could not be read",
                $"{bad.Message} Fix the value and resend; /openapi/v1.json lists every endpoint's parameters."),
            ({ }, _) => ("internal-error", "Internal error",
                $"Hermes failed while answering {http.Request.Method} {path}; nothing from it was queued. This is a bug: the log has the exception under this traceId. Retrying may succeed."),
            (null, StatusCodes.Status404NotFound) => ("not-found", "No such endpoint",
                $"Nothing is served at {path}. Events go to POST /events or POST /events/batch; /openapi/v1.json lists every endpoint."),
            (null, StatusCodes.Status405MethodNotAllowed) => ("method-not-allowed", "Method not allowed",
                $"{path} does not take {http.Request.Method}; it takes {http.Response.Headers.Allow}."),
            _ => ("http-" + problem.Status, ReasonPhrases.GetReasonPhrase(problem.Status ?? 500),
                $"{http.Request.Method} {path} was answered {problem.Status}; /openapi/v1.json describes every endpoint."),
        };
        problem.Type = "urn:hermes:problem:" + kind;
        problem.Title = title;
        problem.Detail = detail;
    }
}

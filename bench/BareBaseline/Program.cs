// The cheapest server that still does what Hermes must do per request: route, read the whole body, answer 202.
// Whatever Hermes costs beyond this is parsing, validation, queueing and metrics.
var builder = WebApplication.CreateBuilder(args);

// Per-request Information logs from hosting would cost more than the handler itself.
builder.Logging.SetMinimumLevel(LogLevel.Warning);

var app = builder.Build();

app.MapPost("/events", DrainBodyAsync);
app.MapPost("/events/batch", DrainBodyAsync);

app.Run();

static async Task DrainBodyAsync(HttpContext context)
{
    var reader = context.Request.BodyReader;
    while (true)
    {
        var result = await reader.ReadAsync(context.RequestAborted);
        reader.AdvanceTo(result.Buffer.End);
        if (result.IsCompleted)
        {
            break;
        }
    }

    context.Response.StatusCode = StatusCodes.Status202Accepted;
}

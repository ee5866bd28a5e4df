using System.Net;
using Hermes.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Hermes.Tests.Integration;

/// <summary>
/// Errors ASP.NET Core produces itself (no route, wrong method, a query value that does not bind, an unhandled
/// exception) follow the same problem+json contract as the handlers' own refusals.
/// </summary>
public sealed class ErrorContractTests
{
    public const string AdminKey = "admin-errors-0123456789abcdef";

    /// <summary>Settings under which every framework error can be provoked: /debug/* mapped, behind an admin key.</summary>
    public static Dictionary<string, string?> Settings() => new() { ["DEBUG_ENDPOINTS"] = "true", ["ADMIN_API_KEYS"] = AdminKey };

    [Theory]
    [InlineData("GET", "/no-such-path", 404, "not-found", "/no-such-path")]
    [InlineData("POST", "/events/nope", 404, "not-found", "POST /events")]
    [InlineData("GET", "/events", 405, "method-not-allowed", "POST")]
    [InlineData("DELETE", "/aggregates", 405, "method-not-allowed", "GET")]
    [InlineData("GET", "/debug/counters?seconds=x", 400, "invalid-request", "\"x\"")]
    [InlineData("GET", "/debug/trace?seconds=5s", 400, "invalid-request", "seconds")]
    [InlineData("GET", "/debug/counters?seconds=NaN", 400, "invalid-query", "seconds")]
    [InlineData("GET", "/test/throws", 500, "internal-error", "traceId")]
    public async Task Framework_errors_are_problem_json_saying_what_was_wrong(string method, string path, int status, string kind, string detailMentions)
    {
        await using var hermes = new HermesFactory(Settings()).WithServices(services => services.AddSingleton<IStartupFilter>(new ThrowingPath()));
        var client = hermes.Start();
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Add("X-Api-Key", AdminKey);

        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.ReadJsonAsync();
        Assert.Equal($"urn:hermes:problem:{kind}", problem.GetProperty("type").GetString());
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()));
        Assert.Contains(detailMentions, problem.GetProperty("detail").GetString());
        if (status == 500)
        {
            // The exception's own text stays in the log; the client gets a trace id to quote.
            Assert.DoesNotContain(ThrowingPath.Secret, problem.ToString());
            Assert.False(string.IsNullOrEmpty(problem.GetProperty("traceId").GetString()));
        }
    }

    [Fact]
    public async Task A_bad_query_value_is_the_clients_400_not_an_error_in_the_log()
    {
        var settings = Settings().ToDictionary(s => s.Key, s => s.Value!);
        await using var hermes = HermesProcess.Start(settings);
        await hermes.WaitUntilAliveAsync(TimeSpan.FromSeconds(30));
        using var request = new HttpRequestMessage(HttpMethod.Get, "/debug/counters?seconds=x");
        request.Headers.Add("X-Api-Key", AdminKey);

        using var response = await hermes.Client.SendAsync(request, TestContext.Current.CancellationToken);
        hermes.Signal(HermesProcess.SIGTERM);
        await hermes.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain("BadHttpRequestException", hermes.StandardOutput + hermes.StandardError);
        Assert.DoesNotContain("fail:", hermes.StandardOutput);
    }

    /// <summary>A path whose handler throws, behind the app's whole pipeline (after its endpoints, so no route matches it first).</summary>
    private sealed class ThrowingPath : IStartupFilter
    {
        public const string Secret = "connection string with password=hunter2";

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            next(app);
            app.Map("/test/throws", branch => branch.Run(_ => throw new InvalidOperationException(Secret)));
        };
    }
}

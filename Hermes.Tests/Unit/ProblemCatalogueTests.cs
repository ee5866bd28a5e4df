using System.Reflection;
using System.Text.Json;
using Hermes.Ingest.Apis;
using Hermes.Ingest.Events;
using Hermes.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Hermes.Tests.Unit;

/// <summary>Every problem Hermes answers with is a named factory, and each one is in docs/ENGINEERING.md §6's table.</summary>
public sealed class ProblemCatalogueTests
{
    public static TheoryData<string> Factories =>
        [.. typeof(Problems).GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.ReturnType == typeof(Problem)).Select(m => m.Name).Distinct()];

    [Theory]
    [MemberData(nameof(Factories))]
    public void Each_problem_says_what_and_how_to_fix_and_is_documented_with_its_status(string factory)
    {
        var engineering = File.ReadAllText(Path.Combine(Repository.Root, "docs", "ENGINEERING.md"));

        foreach (var problem in Examples(typeof(Problems).GetMethods().Where(m => m.Name == factory)))
        {
            Assert.InRange(problem.Status, 400, 599);
            Assert.False(string.IsNullOrWhiteSpace(problem.Title));
            Assert.False(string.IsNullOrWhiteSpace(problem.Detail));
            Assert.True(problem.Field is null == problem.Rule is null, $"{factory}: a field comes with its rule");
            Assert.Contains($"| {problem.Status} | `{problem.Type}` |", engineering, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_problem_is_written_as_problem_json_with_its_retry_after()
    {
        var context = new DefaultHttpContext();
        context.Response.Body = new MemoryStream();

        await Problems.QueueFull(length: 10, capacity: 10, count: 3, waited: null, retryAfterSeconds: 7).WriteAsync(context);

        Assert.Equal((503, "application/problem+json", "7"), (context.Response.StatusCode, context.Response.ContentType, context.Response.Headers.RetryAfter.ToString()));
        context.Response.Body.Position = 0;
        var json = JsonDocument.Parse(context.Response.Body).RootElement;
        Assert.Equal("urn:hermes:problem:queue-full", json.GetProperty("type").GetString());
        Assert.Equal(7, json.GetProperty("retryAfterSeconds").GetInt32());
        Assert.Contains("no room for 3 more", json.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    /// <summary>Each factory called with plain values, both ways for a flag.</summary>
    private static IEnumerable<Problem> Examples(IEnumerable<MethodInfo> overloads)
    {
        foreach (var method in overloads)
        {
            foreach (var flag in new[] { false, true })
            {
                yield return (Problem)method.Invoke(null, [.. method.GetParameters().Select(p => Value(p.ParameterType, flag))])!;
            }
        }
    }

    private static object? Value(Type type, bool flag) => type switch
    {
        _ when type == typeof(string) => "x",
        _ when type == typeof(int) => 1,
        _ when type == typeof(long) => 1L,
        _ when type == typeof(double) => 0.5,
        _ when type == typeof(bool) => flag,
        _ when type == typeof(TimeSpan?) => flag ? TimeSpan.FromSeconds(1) : null,
        _ when type == typeof(EventError) => new EventError("timestamp", "range", "too far ahead"),
        _ when type == typeof(JsonException) => new JsonException("broken"),
        _ when type == typeof(BadHttpRequestException) => new BadHttpRequestException("slow", flag ? 408 : 400),
        _ => throw new InvalidOperationException($"No example value for {type}"),
    };
}

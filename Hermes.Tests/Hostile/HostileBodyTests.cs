using System.Net;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Hostile;

/// <summary>Hostile bodies the validation matrix does not already cover, each with its precise 4xx.</summary>
public sealed class HostileBodyTests() : HermesTest(new() { ["MAX_JSON_DEPTH"] = "16" })
{
    [Fact]
    public async Task Nesting_deeper_than_the_limit_is_refused_with_400_naming_the_depth()
    {
        var deep = new string('[', 40) + new string(']', 40);
        var body = Events.Json("deep", payload: "{\"k\":" + deep + "}");

        var response = await Client.PostAsync("/events", Events.Body(body), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("depth", (await response.ReadJsonAsync()).GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Deep_line_in_ndjson_is_rejected_by_index_while_the_others_are_accepted()
    {
        var deep = Events.Json("deep", payload: "{\"k\":" + new string('[', 40) + new string(']', 40) + "}");

        var response = await Client.PostAsync("/events/batch", Events.Ndjson([Events.Json("ok-1"), deep, Events.Json("ok-2")]), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var json = await response.ReadJsonAsync();
        Assert.Equal(2, json.GetProperty("accepted").GetInt32());
        Assert.Equal(1, Assert.Single(json.GetProperty("rejected").EnumerateArray()).GetProperty("index").GetInt32());
    }

    [Theory]
    [InlineData("253402300800", "range")]                 // 10000-01-01T00:00:00Z
    [InlineData("9223372036854775807", "range")]
    [InlineData("9223372036854775808", "integer")]        // one past Int64.MaxValue
    [InlineData("1e10", "integer")]
    [InlineData("-0.0", "integer")]
    [InlineData("\"1700000000\"", "integer")]
    public async Task Timestamps_beyond_year_9999_or_not_integers_are_refused(string timestamp, string rule)
    {
        var body = $$"""{"id":"ts","user_id":"u","type":"song_played","timestamp":{{timestamp}}}""";

        var response = await Client.PostAsync("/events", Events.Body(body), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.ReadJsonAsync();
        Assert.Equal("timestamp", problem.GetProperty("field").GetString());
        Assert.Equal(rule, problem.GetProperty("rule").GetString());
        Assert.Equal($"Invalid 'timestamp': {rule}", problem.GetProperty("title").GetString());
    }

    [Theory]
    [InlineData("""{"\ud800":1,"id":"sur-1","user_id":"u","type":"song_played","timestamp":1700000000}""", HttpStatusCode.Accepted)]
    [InlineData("""{"id":"sur-2","user_id":"u","type":"\ud800song_played","timestamp":1700000000}""", HttpStatusCode.BadRequest)]
    public async Task An_escaped_lone_surrogate_in_a_field_name_or_the_type_is_ignored_or_refused_never_a_500(string body, HttpStatusCode expected)
    {
        var response = await Client.PostAsync("/events", Events.Body(body), TestContext.Current.CancellationToken);

        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task A_huge_string_in_an_ignored_field_is_bounded_by_the_body_limit()
    {
        var body = $$"""{"id":"big","user_id":"u","type":"song_played","timestamp":1700000000,"extra":"{{new string('x', 70_000)}}"}""";

        var response = await Client.PostAsync("/events", Events.Body(body), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }
}

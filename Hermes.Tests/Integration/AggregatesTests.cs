using System.Net;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Integration;

public sealed class AggregatesTests() : HermesTest(new() { ["FLUSH_INTERVAL"] = "10ms" })
{
    [Fact]
    public async Task Concurrent_producers_are_counted_exactly_per_type_and_minute()
    {
        const int Producers = 16, RequestsEach = 25, EventsPerRequest = 40;
        string[] types = ["trip_started", "song_played", "ad_clicked", "location_update"];

        await Task.WhenAll(Enumerable.Range(0, Producers).Select(async p =>
        {
            for (var r = 0; r < RequestsEach; r++)
            {
                var events = Enumerable.Range(0, EventsPerRequest)
                    .Select(i => Events.Json($"{p}-{r}-{i}", type: types[i % 4], timestamp: 1_700_000_000 + (60 * (i % 3))));
                var response = await Client.PostAsync("/events/batch", Events.Ndjson(events));
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            }

            // Singles interleaved with batches.
            var single = await Client.PostAsync("/events", Events.Body(Events.Json($"single-{p}", type: "ad_clicked")));
            Assert.Equal(HttpStatusCode.Accepted, single.StatusCode);
        }));

        const long Total = (Producers * RequestsEach * EventsPerRequest) + Producers;
        var json = await Events.Eventually(
            async () => await (await Client.GetAsync("/aggregates")).ReadJsonAsync(),
            j => j.EnumerateObject().Sum(p => p.Value.GetInt64()) == Total);

        Assert.Equal(Total, json.EnumerateObject().Sum(p => p.Value.GetInt64()));
        // i % 4 == 2 and i % 3 == 0 → i ∈ {6, 18, 30} per request, plus every single (minute 1699999980).
        Assert.Equal((Producers * RequestsEach * 3) + Producers, json.GetProperty("ad_clicked:1699999980").GetInt64());
    }

    [Fact]
    public async Task Aggregates_can_be_filtered_by_type_and_time()
    {
        await Client.PostAsync("/events/batch", Events.Array([
            Events.Json("f-1", type: "trip_started", timestamp: 1_700_000_000),
            Events.Json("f-2", type: "trip_started", timestamp: 1_700_000_100),
            Events.Json("f-3", type: "song_played", timestamp: 1_700_000_100),
        ]), TestContext.Current.CancellationToken);
        await Events.Eventually(
            async () => await (await Client.GetAsync("/aggregates")).ReadJsonAsync(),
            j => j.EnumerateObject().Count() == 3);

        var json = await (await Client.GetAsync("/aggregates?type=trip_started&from=1700000040&to=1700000100", TestContext.Current.CancellationToken)).ReadJsonAsync();

        var only = Assert.Single(json.EnumerateObject());
        Assert.Equal("trip_started:1700000100", only.Name);
        Assert.Equal(1, only.Value.GetInt64());
    }

    [Theory]
    [InlineData("?type=nope", "type")]
    [InlineData("?from=yesterday", "from")]
    [InlineData("?to=-5", "to")]
    public async Task Bad_filters_are_refused_with_400_naming_the_parameter(string query, string field)
    {
        var response = await Client.GetAsync("/aggregates" + query, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(field, (await response.ReadJsonAsync()).GetProperty("field").GetString());
    }
}

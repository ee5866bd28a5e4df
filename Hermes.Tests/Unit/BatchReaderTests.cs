using System.Text;
using System.Text.Json;
using Hermes.Ingest.Configuration;
using Hermes.Ingest.Events;
using Hermes.Tests.Infrastructure;
using E = Hermes.Tests.Infrastructure.Events;

namespace Hermes.Tests.Unit;

/// <summary>
/// Batch bodies split into events without HTTP: NDJSON judged line by line (one bad line, one rejection), a JSON
/// array judged as a whole (one broken bracket and nothing is trusted), and MAX_BATCH_EVENTS / MAX_EVENT_BYTES.
/// </summary>
public sealed class BatchReaderTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(E.Timestamp + 60);

    [Fact]
    public void Ndjson_lines_become_events_in_order_and_a_bad_line_is_one_rejection_at_its_index()
    {
        using var outcome = Outcome();

        var result = Ndjson(string.Join('\n', E.Json("n-1"), E.Json("n-2", type: "nope"), E.Json("n-3")), outcome);

        Assert.Equal(BatchStatus.Ok, result.Status);
        Assert.Equal(["n-1", "n-3"], Ids(outcome));
        var rejected = Assert.Single(outcome.Rejected);
        Assert.Equal((1, "type", "allowed-values"), (rejected.Index, rejected.Error.Field, rejected.Error.Rule));
    }

    [Fact]
    public void Ndjson_takes_CRLF_blank_lines_padding_and_a_last_line_without_newline_and_blank_lines_take_no_index()
    {
        using var outcome = Outcome();

        Ndjson($"{E.Json("c-1")}\r\n\r\n   \n\t{E.Json("c-2", type: "nope")} \r\n{E.Json("c-3")}", outcome);

        Assert.Equal(["c-1", "c-3"], Ids(outcome));
        Assert.Equal(1, Assert.Single(outcome.Rejected).Index);
    }

    [Fact]
    public void An_event_split_over_two_lines_is_two_rejected_lines_and_the_next_line_still_counts()
    {
        using var outcome = Outcome();
        var split = E.Json("s-1").Replace(",\"user_id\"", ",\n\"user_id\"", StringComparison.Ordinal);

        Ndjson(split + "\n" + E.Json("s-2"), outcome);

        Assert.Equal(["s-2"], Ids(outcome));
        Assert.Equal([(0, "json"), (1, "json")], outcome.Rejected.Select(r => (r.Index, r.Error.Rule)));
        Assert.All(outcome.Rejected, r => Assert.Contains("not valid JSON (byte", r.Error.Message));
    }

    [Fact]
    public void Ndjson_line_over_MAX_EVENT_BYTES_is_refused_by_its_size_and_the_others_kept()
    {
        var options = new IngestOptions { MaxEventBytes = 200 };
        using var outcome = Outcome(options);

        Ndjson(string.Join('\n', E.Json("l-1"), E.Json("l-2", payload: $$"""{"pad":"{{new string('x', 200)}}"}"""), E.Json("l-3")), outcome, options);

        Assert.Equal(["l-1", "l-3"], Ids(outcome));
        var rejected = Assert.Single(outcome.Rejected);
        Assert.Equal((1, "event", "max-size"), (rejected.Index, rejected.Error.Field, rejected.Error.Rule));
        Assert.Contains("MAX_EVENT_BYTES", rejected.Error.Message);
    }

    [Fact]
    public void Array_events_keep_their_order_and_each_payload_exactly_as_sent()
    {
        using var outcome = Outcome();
        const string payload = "{ \"a\" : [1, {\"b\":\"é\\u00e9\"}],\n  \"c\":null }";

        var result = Array($"[\n  {E.Json("a-1")},\n  {E.Json("a-2", payload: payload)} ,{E.Json("a-3", payload: "null")}\n]", outcome);

        Assert.Equal(BatchStatus.Ok, result.Status);
        Assert.Equal(["a-1", "a-2", "a-3"], Ids(outcome));
        Assert.Equal(["{\"k\":1}", payload, null], outcome.Events.ToArray().Select(e => e.Payload));
        Assert.All(outcome.Events.ToArray(), e => Assert.Equal(Now.ToUnixTimeMilliseconds(), e.ReceivedAtMs));
    }

    [Fact]
    public void Array_element_that_is_not_an_object_is_rejected_at_its_index_and_the_others_kept()
    {
        using var outcome = Outcome();

        Array($"[{E.Json("x-1")}, 42, \"x\", [{E.Json("nested")}], {E.Json("x-2", type: "nope")}, {E.Json("x-3")}]", outcome);

        Assert.Equal(["x-1", "x-3"], Ids(outcome));
        Assert.Equal([(1, "type"), (2, "type"), (3, "type"), (4, "allowed-values")], outcome.Rejected.Select(r => (r.Index, r.Error.Rule)));
    }

    [Theory]
    [InlineData("[{\"id\":\"b-1\",\n \"user_id\":}]", "line 2, byte 12")]
    [InlineData("[{\"id\":\"b-1\",\"user_id\":\"u\",\"type\":\"song_played\",\"timestamp\":1700000000}] {}", "line 1, byte 74")]
    [InlineData("[", "line 1, byte 2")]
    public void Broken_array_is_malformed_as_a_whole_saying_where_the_parser_stopped(string body, string where)
    {
        using var outcome = Outcome();

        var result = Array(body, outcome);

        Assert.Equal(BatchStatus.Malformed, result.Status);
        Assert.Contains($"The parser stopped at {where}:", result.Message);
        Assert.EndsWith("Nothing was queued.", result.Message);
    }

    [Fact]
    public void A_single_object_where_an_array_belongs_points_to_both_batch_forms()
    {
        using var outcome = Outcome();

        var result = Array(E.Json("o-1"), outcome);

        Assert.Equal(BatchStatus.Malformed, result.Status);
        Assert.Contains("application/x-ndjson", result.Message);
        Assert.Equal(0, outcome.Count);
    }

    [Fact]
    public void An_empty_array_and_blank_NDJSON_are_empty_batches_but_no_bytes_at_all_is_no_array()
    {
        using var array = Outcome();
        using var ndjson = Outcome();
        using var nothing = Outcome();

        Assert.Equal(BatchStatus.Ok, Array("[ ]", array).Status);
        Assert.Equal(BatchStatus.Ok, Ndjson("\n\r\n  \n", ndjson).Status);
        Assert.Equal(BatchStatus.Malformed, Array("", nothing).Status);
        Assert.Equal((0, 0, 0, 0), (array.Count, array.Rejected.Count, ndjson.Count, ndjson.Rejected.Count));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Up_to_MAX_BATCH_EVENTS_is_read_and_one_more_refuses_the_batch(bool ndjson)
    {
        var options = new IngestOptions { MaxBatchEvents = 3 };
        var events = Enumerable.Range(0, 4).Select(i => E.Json($"m-{i}")).ToArray();
        using var three = Outcome(options);
        using var four = Outcome(options);
        BatchReader.Result Read(string[] batch, BatchOutcome outcome) => ndjson
            ? Ndjson(string.Join("\n\n", batch) + "\n", outcome, options) // blank lines take no index
            : Array("[" + string.Join(',', batch) + "]", outcome, options);

        var atLimit = Read(events[..3], three);
        var overLimit = Read(events, four);

        Assert.Equal((BatchStatus.Ok, 3), (atLimit.Status, three.Count));
        Assert.Equal(BatchStatus.TooManyEvents, overLimit.Status);
    }

    [Fact]
    public void A_batch_larger_than_the_first_pooled_buffer_keeps_every_event_in_order()
    {
        using var outcome = Outcome();
        var ids = Enumerable.Range(0, 2_500).Select(i => $"big-{i}").ToArray();

        Array("[" + string.Join(',', ids.Select(id => E.Json(id))) + "]", outcome);

        Assert.Equal(ids, Ids(outcome));
    }

    [Fact]
    public void Rejections_are_written_with_index_field_rule_and_message()
    {
        using var outcome = Outcome();
        Ndjson(E.Json("w-1") + "\n" + E.Json("w-2", timestamp: -5), outcome);
        var buffer = new MemoryStream();

        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            outcome.WriteRejected(json);
            json.WriteEndObject();
        }

        var rejected = Assert.Single(JsonDocument.Parse(buffer.ToArray()).RootElement.GetProperty("rejected").EnumerateArray());
        Assert.Equal((1, "timestamp", "range"), (rejected.GetProperty("index").GetInt32(), rejected.GetProperty("field").GetString(), rejected.GetProperty("rule").GetString()));
        Assert.Contains("must not be negative", rejected.GetProperty("error").GetString());
    }

    private static BatchOutcome Outcome(IngestOptions? options = null) => new((options ?? new()).MaxBatchEvents);

    private static BatchReader.Result Ndjson(string body, BatchOutcome outcome, IngestOptions? options = null)
    {
        options ??= new();
        return BatchReader.ReadNdjson(PureCore.Parser(options), Encoding.UTF8.GetBytes(body), Now, options, outcome);
    }

    private static BatchReader.Result Array(string body, BatchOutcome outcome, IngestOptions? options = null)
    {
        options ??= new();
        return BatchReader.ReadArray(PureCore.Parser(options), Encoding.UTF8.GetBytes(body), Now, options, outcome);
    }

    private static string[] Ids(BatchOutcome outcome) => [.. outcome.Events.ToArray().Select(e => e.Id)];
}

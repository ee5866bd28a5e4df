using Hermes.Ingest.Configuration;
using Hermes.Ingest.Security;
using Hermes.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Hermes.Tests.Unit;

/// <summary>Who a presented key is, and what it may do: producer keys produce, read keys read, admin keys read and administer.</summary>
public sealed class ApiKeyRingTests
{
    private static readonly ApiKeyRing Ring = PureCore.KeyRing(new IngestOptions
    {
        ApiKeys = ["mobile:produce-0123456789", "produce-unlabelled-1", "produce-unlabelled-2"],
        ReadApiKeys = ["dashboard:read-0123456789", "read-unlabelled"],
        AdminApiKeys = ["ops:admin-0123456789"],
    });

    [Theory]
    [InlineData("produce-0123456789", KeyScope.Produce, "mobile")]
    [InlineData("produce-unlabelled-2", KeyScope.Produce, "producer-3")] // unlabelled keys are named by position
    [InlineData("read-0123456789", KeyScope.Read, "dashboard")]
    [InlineData("read-unlabelled", KeyScope.Read, "reader-2")]
    [InlineData("admin-0123456789", KeyScope.Admin, "ops")]
    [InlineData("admin-0123456789", KeyScope.Read, "ops")] // admins may read
    public void A_key_is_known_by_its_label_for_what_it_may_do(string key, KeyScope scope, string label) =>
        Assert.Equal(label, Ring.Authenticate(key, scope));

    [Theory]
    [InlineData("produce-0123456789", KeyScope.Read)]
    [InlineData("produce-0123456789", KeyScope.Admin)]
    [InlineData("read-0123456789", KeyScope.Produce)]
    [InlineData("read-0123456789", KeyScope.Admin)]
    [InlineData("admin-0123456789", KeyScope.Produce)]
    public void A_key_grants_nothing_beyond_its_scope(string key, KeyScope scope) =>
        Assert.Null(Ring.Authenticate(key, scope));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("produce-012345678")] // a prefix of a real key
    [InlineData("produce-01234567890")] // a real key and more
    [InlineData("PRODUCE-0123456789")] // keys are case-sensitive
    [InlineData("mobile:produce-0123456789")] // the label is not part of the key
    public void Anything_but_the_exact_key_is_refused(string? key) =>
        Assert.Null(Ring.Authenticate(key, KeyScope.Produce));

    [Fact]
    public void A_configured_key_longer_than_512_characters_can_never_be_presented()
    {
        var key = new string('k', 513);
        var ring = PureCore.KeyRing(new IngestOptions { ApiKeys = [key, new string('k', 512)] });

        Assert.Null(ring.Authenticate(key, KeyScope.Produce));
        Assert.Equal("producer-2", ring.Authenticate(new string('k', 512), KeyScope.Produce));
    }

    [Fact]
    public void The_same_secret_in_two_lists_answers_with_the_label_of_the_scope_asked_for()
    {
        var ring = PureCore.KeyRing(new IngestOptions { ApiKeys = ["ci:shared-secret-1"], ReadApiKeys = ["grafana:shared-secret-1"] });

        Assert.Equal(("ci", "grafana"), (ring.Authenticate("shared-secret-1", KeyScope.Produce), ring.Authenticate("shared-secret-1", KeyScope.Read)));
        Assert.Equal(["ci", "grafana"], ring.Labels);
    }

    [Fact]
    public void Keys_are_required_only_for_the_lists_that_are_set()
    {
        var open = PureCore.KeyRing(new IngestOptions());
        var producersOnly = PureCore.KeyRing(new IngestOptions { ApiKeys = ["p"] });
        var readersOnly = PureCore.KeyRing(new IngestOptions { ReadApiKeys = ["r"], AdminApiKeys = ["a"] });

        Assert.Equal((false, false), (open.ProducersRequireKey, open.ReadersRequireKey));
        Assert.Equal((true, false), (producersOnly.ProducersRequireKey, producersOnly.ReadersRequireKey));
        Assert.Equal((false, true), (readersOnly.ProducersRequireKey, readersOnly.ReadersRequireKey));
        Assert.Null(open.Authenticate("anything", KeyScope.Produce));
    }

    [Theory]
    [InlineData("X-Api-Key", "k-1", "k-1")]
    [InlineData("Authorization", "Bearer k-2", "k-2")]
    [InlineData("Authorization", "bearer   k-3  ", "k-3")]
    [InlineData("Authorization", "Basic dTpw", null)]
    [InlineData("X-Api-Key", "", null)]
    [InlineData("X-Other", "k-4", null)]
    public void The_key_is_read_from_X_Api_Key_or_a_bearer_token(string header, string value, string? presented)
    {
        var context = new DefaultHttpContext();
        context.Request.Headers[header] = value;

        Assert.Equal(presented, ApiKeyRing.Presented(context.Request));
    }

    [Fact]
    public void X_Api_Key_wins_over_a_bearer_token()
    {
        var context = new DefaultHttpContext();
        context.Request.Headers["X-Api-Key"] = "from-header";
        context.Request.Headers.Authorization = "Bearer from-bearer";

        Assert.Equal("from-header", ApiKeyRing.Presented(context.Request));
    }
}

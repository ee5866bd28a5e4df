using Hermes.Ingest.Configuration;
using Hermes.Ingest.Sinks.Postgres;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace Hermes.Tests.Unit;

/// <summary>DB_DSN in both its forms and the sink settings read beside it: no server, no process.</summary>
public sealed class PostgresDsnTests
{
    [Fact]
    public void Seed_url_form_becomes_a_keyword_connection_string()
    {
        var problem = PostgresDsn.TryParse("postgres://hermes:s%3Acret@db.internal:6543/events?sslmode=disable", out var connectionString);

        Assert.Null(problem);
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        Assert.Equal(("db.internal", 6543, "hermes", "s:cret", "events", SslMode.Disable),
            (builder.Host, builder.Port, builder.Username, builder.Password, builder.Database, builder.SslMode));
    }

    [Fact]
    public void Url_without_port_or_database_keeps_the_defaults()
    {
        PostgresDsn.TryParse("postgresql://app@localhost", out var connectionString);

        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        Assert.Equal(("localhost", 5432, "app", null), (builder.Host, builder.Port, builder.Username, builder.Database));
    }

    [Fact]
    public void Keyword_form_is_taken_as_is()
    {
        var problem = PostgresDsn.TryParse("Host=10.0.0.5;Port=5433;Username=u;Password=p;Database=d;SSL Mode=Require", out var connectionString);

        Assert.Null(problem);
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        Assert.Equal(("10.0.0.5", 5433, "d", SslMode.Require), (builder.Host, builder.Port, builder.Database, builder.SslMode));
    }

    [Theory]
    [InlineData("mysql://u:p@h/db", "scheme")]
    [InlineData("postgres://u:p@h/db?sslmode=sometimes", "sslmode")]
    [InlineData("postgres://u:p@h/db?frobnicate=1", "frobnicate")]
    [InlineData("Hots=x;Bogus=1", "keyword")]
    [InlineData("Username=u;Database=d", "no host")]
    public void Bad_dsn_is_refused_with_the_rule_it_breaks(string dsn, string rule)
    {
        var problem = PostgresDsn.TryParse(dsn, out _);

        Assert.NotNull(problem);
        Assert.Contains(rule, problem);
    }

    [Fact]
    public void Bad_dsn_fails_loading_with_a_message_naming_DB_DSN_without_the_password()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["DB_DSN"] = "postgres://u:topsecret@h/db?sslmode=maybe" }).Build();

        var error = Assert.Throws<InvalidSettingException>(() => PostgresSinkOptionsLoader.Load(configuration, IngestOptionsLoader.Load(configuration)));

        Assert.Contains("DB_DSN=postgres://u:***@h/db?sslmode=maybe is invalid", error.Message);
        Assert.DoesNotContain("topsecret", error.Message);
    }

    [Fact]
    public void Neither_DB_DSN_nor_a_hermesdb_connection_string_means_no_database()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["SPILL_DIR"] = "/tmp/x" }).Build();

        Assert.Null(PostgresSinkOptionsLoader.Load(configuration, IngestOptionsLoader.Load(configuration)));
    }

    [Fact]
    public void Aspire_connection_string_is_used_and_breaker_settings_are_read()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:hermesdb"] = "Host=pg;Database=hermes",
            ["DB_BREAKER_FAILURES"] = "5",
            ["DB_BREAKER_BREAK"] = "10s",
            ["MAX_OPEN_CONNS"] = "7",
        }).Build();

        var options = PostgresSinkOptionsLoader.Load(configuration, IngestOptionsLoader.Load(configuration))!;

        Assert.Equal(("pg", 5, TimeSpan.FromSeconds(10), 7),
            (new NpgsqlConnectionStringBuilder(options.ConnectionString).Host, options.Durable.BreakerFailures, options.Durable.BreakerBreak, options.MaxOpenConns));
    }
}

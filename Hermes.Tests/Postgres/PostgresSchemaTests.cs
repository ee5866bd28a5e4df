using Hermes.Ingest.Sinks.Postgres;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Hermes.Tests.Postgres;

[Infrastructure.NeedsPostgresServer]
[Collection(PostgresCollection.Name)]
public sealed class PostgresSchemaTests(SharedPostgres postgres)
{
    [Fact]
    public async Task Two_instances_migrating_at_once_apply_each_version_once()
    {
        var db = await postgres.Server.CreateDatabaseAsync();
        await using var first = NpgsqlDataSource.Create(db);
        await using var second = NpgsqlDataSource.Create(db);

        await Task.WhenAll(
            new PostgresSchema(first, NullLogger<PostgresSchema>.Instance).EnsureAsync(TestContext.Current.CancellationToken).AsTask(),
            new PostgresSchema(second, NullLogger<PostgresSchema>.Instance).EnsureAsync(TestContext.Current.CancellationToken).AsTask());
        await new PostgresSchema(first, NullLogger<PostgresSchema>.Instance).EnsureAsync(TestContext.Current.CancellationToken);

        var versions = await Database.RowsAsync(db, "SELECT version FROM schema_version ORDER BY version");
        Assert.Equal(PostgresSchema.Migrations.Select(m => (object?)m.Version), versions.Select(r => r[0]));
        Assert.Equal(PostgresSchema.LatestVersion, await Database.ScalarAsync<int>(db, "SELECT max(version) FROM schema_version"));
        Assert.Equal(0L, await Database.ScalarAsync<long>(db, "SELECT count(*) FROM events"));
    }
}

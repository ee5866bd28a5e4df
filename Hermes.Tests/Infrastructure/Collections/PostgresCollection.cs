using Hermes.Tests.Infrastructure;
namespace Hermes.Tests.Infrastructure.Collections;

/// <summary>
/// One PostgreSQL server shared by the tests that do not stop it; each test gets its own database. Tests that stop
/// the server start their own. One collection, so these tests take turns rather than fight over 2 cores.
/// </summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<SharedPostgres>
{
    public const string Name = "Postgres";
}

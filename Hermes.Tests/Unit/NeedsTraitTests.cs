using System.Reflection;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;
using Xunit.v3;

namespace Hermes.Tests.Unit;

/// <summary>
/// The fast loop (<c>--filter-not-trait 'Needs=*'</c>) is only honest if every test that starts PostgreSQL or
/// Chromium says so: a class in the Postgres collection gets its shared server started even for a test that does not
/// use it, the browser tests launch Chromium, and the soak tests take minutes.
/// </summary>
public sealed class NeedsTraitTests
{
    private static readonly Type[] TestClasses =
    [
        .. typeof(NeedsTraitTests).Assembly.GetTypes().Where(t => t.GetMethods().Any(m => m.GetCustomAttributes<FactAttribute>().Any())),
    ];

    [Fact]
    public void Every_class_in_the_Postgres_collection_needs_PostgreSQL_and_root() =>
        AssertNeed(TestClasses.Where(t => t.GetCustomAttribute<CollectionAttribute>()?.Name == PostgresCollection.Name), Needs.PostgreSql, Needs.Root);

    [Fact]
    public void Every_browser_test_needs_Chromium() =>
        AssertNeed(TestClasses.Where(t => t.Namespace == "Hermes.Tests.Browser"), Needs.Chromium);

    [Fact]
    public void Every_soak_test_is_marked_soak() =>
        AssertNeed(TestClasses.Where(t => t.Namespace == "Hermes.Tests.Soak"), Needs.Soak);

    private static void AssertNeed(IEnumerable<Type> classes, params string[] needs)
    {
        var checkedClasses = classes.ToList();
        Assert.NotEmpty(checkedClasses);
        Assert.All(checkedClasses, type =>
        {
            var declared = type.GetCustomAttributes().OfType<ITraitAttribute>().SelectMany(a => a.GetTraits())
                .Where(t => t.Key == Needs.Trait).Select(t => t.Value).ToHashSet();
            Assert.True(needs.All(declared.Contains), $"{type.Name} declares Needs={string.Join(",", declared)}; it needs {string.Join(",", needs)}");
        });
    }
}

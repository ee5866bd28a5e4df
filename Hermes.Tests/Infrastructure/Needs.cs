using Xunit.v3;

namespace Hermes.Tests.Infrastructure;

/// <summary>
/// What a test needs beyond the .NET SDK, as the xUnit trait <c>Needs</c>, so that a machine without it can run
/// everything else: <c>dotnet test -- --filter-not-trait 'Needs=*'</c> (README, Testing). A test class carries one
/// attribute per need; a test without any runs as an ordinary user with nothing installed.
/// </summary>
public static class Needs
{
    public const string Trait = "Needs";

    /// <summary>PostgreSQL 15 binaries in <c>/usr/lib/postgresql/15/bin</c> (Debian's postgresql-15).</summary>
    public const string PostgreSql = "PostgreSQL";

    /// <summary>Root: the test hands files to the <c>postgres</c> OS user and runs the server through setpriv.</summary>
    public const string Root = "root";

    /// <summary><c>/usr/bin/chromium</c> (Debian's chromium), driven headless by Playwright.</summary>
    public const string Chromium = "Chromium";

    /// <summary>Minutes: load held against a real database until a steady state shows (<c>SOAK=long</c> for longer).</summary>
    public const string Soak = "soak";

    /// <summary>
    /// The Aspire AppHost: DCP starting whole stacks, or <c>dotnet publish</c> of the services. Minutes of CPU, and a
    /// checkout the test may build in.
    /// </summary>
    public const string AppHost = "AppHost";

    /// <summary>Node 20 and the npm packages of <c>Hermes.Tests/Producers/node</c> (<c>npm ci</c> there): the real producer SDKs.</summary>
    public const string Node = "Node";
}

/// <summary>Base of the attributes below: each is the trait <c>Needs</c> once per value it names.</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false)]
public abstract class NeedsAttribute(params string[] needs) : Attribute, ITraitAttribute
{
    public IReadOnlyCollection<KeyValuePair<string, string>> GetTraits() => [.. needs.Select(n => new KeyValuePair<string, string>(Needs.Trait, n))];
}

/// <summary>A throwaway <see cref="PostgresServer"/>: PostgreSQL 15, and root to run it as the <c>postgres</c> user.</summary>
public sealed class NeedsPostgresServerAttribute() : NeedsAttribute(Needs.PostgreSql, Needs.Root);

/// <summary>PostgreSQL 15 binaries, run as the current user (the AppHost's local server needs no root).</summary>
public sealed class NeedsPostgreSqlAttribute() : NeedsAttribute(Needs.PostgreSql);

/// <summary>The system Chromium, driven by Playwright (never a downloaded browser).</summary>
public sealed class NeedsChromiumAttribute() : NeedsAttribute(Needs.Chromium);

/// <summary>A soak test: minutes of load until a steady state shows (its database is a separate need).</summary>
public sealed class SoakAttribute() : NeedsAttribute(Needs.Soak);

/// <summary>The Aspire AppHost (DCP, whole stacks, its publisher) or <c>dotnet publish</c> of the services.</summary>
public sealed class NeedsAppHostAttribute() : NeedsAttribute(Needs.AppHost);

/// <summary>Node and the producer SDKs from npm (<c>npm ci</c> in <c>Hermes.Tests/Producers/node</c>).</summary>
public sealed class NeedsNodeAttribute() : NeedsAttribute(Needs.Node);

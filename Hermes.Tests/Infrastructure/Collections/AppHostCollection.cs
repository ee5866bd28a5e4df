namespace Hermes.Tests.Infrastructure.Collections;

/// <summary>
/// The AppHost tests (AppHost/): they start DCP and whole stacks, run the AppHost's publisher and publish the services
/// in Release (sharing obj/Release); one at a time keeps them within a 2-core machine and off each other's files.
/// </summary>
[CollectionDefinition(Name)]
public sealed class AppHostCollection
{
    public const string Name = "AppHost";
}

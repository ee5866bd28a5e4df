using Hermes.Ingest.Configuration;
using Hermes.Ingest.Events;
using Hermes.Ingest.Security;
using Microsoft.Extensions.Options;

namespace Hermes.Tests.Infrastructure;

/// <summary>The pure core built straight from options, without a host: the one place its constructors are called from tests.</summary>
public static class PureCore
{
    public static EventParser Parser(IngestOptions options) => new(Options.Create(options), new EventTypeCatalog(Options.Create(options)));

    public static ApiKeyRing KeyRing(IngestOptions options) => new(Options.Create(options));
}

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Where a Hermes service reads appsettings.json (and the dashboard its wwwroot) from. ASP.NET's default content
/// root is the working directory, so `dotnet /opt/hermes/Hermes.Ingest.dll` started elsewhere (a systemd unit
/// without WorkingDirectory, a container whose WORKDIR changed) ran without its settings: log levels fell back to
/// Information and ASP.NET logged two lines per request (measured: 3.4 million lines in 16 s, 42k–46k requests/s
/// against 62k–64k with the settings found).
/// </summary>
public static class HermesContentRoot
{
    /// <summary>
    /// The directory the app was loaded from when its appsettings.json is there (every build and publish of
    /// Hermes.Ingest, a published Hermes.Dashboard, both container images); otherwise null, which keeps ASP.NET's
    /// default: the working directory, the project folder under `dotnet run` and Aspire, where Hermes.Dashboard keeps
    /// its appsettings.json out of the build output (it would overwrite Hermes.Ingest's in Hermes.Tests' bin).
    /// </summary>
    public static string? Resolve() =>
        File.Exists(Path.Combine(AppContext.BaseDirectory, "appsettings.json")) ? AppContext.BaseDirectory : null;
}

using System.Net;
using System.Text.RegularExpressions;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;

namespace Hermes.Tests.AppHost;

/// <summary>
/// The published services behave the same wherever they are started: `dotnet /path/App.dll` from `/` (a systemd
/// unit without WorkingDirectory, a container whose WORKDIR changed) reads the app's own appsettings.json.
/// In the AppHost collection: Release publishes share obj/Release with the container image tests.
/// </summary>
[NeedsAppHost]
[Collection(AppHostCollection.Name)]
public sealed partial class PublishedAppTests
{
    private static readonly string[] PerRequestLogLines = ["Request starting", "Request finished", "Executing endpoint", "Executed endpoint"];

    [Fact]
    public Task Published_ingest_started_from_the_root_directory_keeps_its_log_levels() => WithPublishedAsync("Hermes.Ingest", async (app, ct) =>
    {
        await using var hermes = HermesProcess.Start([], dll: Path.Combine(app, "Hermes.Ingest.dll"), workingDirectory: "/");
        await hermes.WaitUntilAliveAsync(TimeSpan.FromSeconds(30));

        // A few thousand events: 2,000 single requests on 4 connections, and 10 batches of 100.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async worker =>
        {
            for (var i = 0; i < 500; i++)
            {
                using var response = await hermes.Client.PostAsync("/events", Events.Body(Events.Json($"root-{worker}-{i}")), ct);
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            }
        }));
        for (var b = 0; b < 10; b++)
        {
            using var response = await hermes.Client.PostAsync("/events/batch", Events.Array(Enumerable.Range(0, 100).Select(i => Events.Json($"root-batch-{b}-{i}"))), ct);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        hermes.Signal(HermesProcess.SIGTERM);
        Assert.Equal(0, await hermes.WaitForExitAsync(TimeSpan.FromSeconds(30)));

        var log = hermes.StandardOutput;
        Assert.All(PerRequestLogLines, line => Assert.DoesNotContain(line, log));
        Assert.True(log.Split('\n').Length < 100, $"{log.Split('\n').Length} log lines for 2,010 requests:\n{log[..Math.Min(log.Length, 3000)]}");
        Assert.Contains($"Content root path: {app}", log);
        Assert.Contains("3000 accepted and 3000 flushed", log);
    });

    [Fact]
    public Task Published_dashboard_started_from_the_root_directory_serves_its_styles_and_keeps_its_log_levels() => WithPublishedAsync("Hermes.Dashboard", async (app, ct) =>
    {
        var port = Ports.Free();
        await using var dashboard = HermesProcess.Start(
            new() { ["HTTP_ADDR"] = $"127.0.0.1:{port}", ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}", ["INGEST_URL"] = $"http://127.0.0.1:{Ports.Free()}" },
            dll: Path.Combine(app, "Hermes.Dashboard.dll"), workingDirectory: "/");
        await dashboard.WaitUntilAliveAsync(TimeSpan.FromSeconds(30));

        for (var i = 0; i < 200; i++)
        {
            using var page = await dashboard.Client.GetAsync("/", ct);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        }

        var html = await dashboard.Client.GetStringAsync("/", ct);
        var stylesheet = Stylesheet().Match(html);
        Assert.True(stylesheet.Success, html);
        using var css = await dashboard.Client.GetAsync("/" + stylesheet.Groups[1].Value, ct);
        Assert.Equal(HttpStatusCode.OK, css.StatusCode);
        Assert.Equal("text/css", css.Content.Headers.ContentType?.MediaType);

        dashboard.Signal(HermesProcess.SIGTERM);
        await dashboard.WaitForExitAsync(TimeSpan.FromSeconds(30));
        var log = dashboard.StandardOutput;
        Assert.All(PerRequestLogLines, line => Assert.DoesNotContain(line, log));
        Assert.Contains($"Content root path: {app}", log);
    });

    /// <summary>Publishes the project (Release) into a temporary folder, runs the test on it, and deletes it.</summary>
    private static async Task WithPublishedAsync(string project, Func<string, CancellationToken, Task> test)
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("hermes-published-");
        try
        {
            var output = Path.Combine(work.FullName, project);
            var csproj = Path.Combine(AppHostProcess.RepositoryRoot, project, project + ".csproj");
            var (exitCode, log) = await ContainerImageTests.DotnetAsync(
                ["publish", csproj, "-c", "Release", "-nologo", "--disable-build-servers", "-o", output], TimeSpan.FromSeconds(180), ct);
            Assert.True(exitCode == 0, log);
            await test(output, ct);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    [GeneratedRegex("""<link rel="stylesheet" href="([^"]*app[^"]*\.css)"\s*/?>""")]
    private static partial Regex Stylesheet();
}

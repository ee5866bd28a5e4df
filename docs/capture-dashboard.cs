#:package Microsoft.Playwright
#:property PublishAot=false

// Captures docs/dashboard.png: the Hermes dashboard of a running stack, 1440 px wide, dark, in the system Chromium
// (never a downloaded browser), once all four event types are on the chart. The README's screenshot comes from the
// AppHost's sample producer after about ten minutes, so the 15-minute chart has the shape of its "day":
//
//   flock /tmp/hermes-apphost.lock dotnet run --project Hermes.AppHost     # leave it running ~10 min
//   dotnet run docs/capture-dashboard.cs -- http://localhost:8081 docs/dashboard.png
// (PublishAot=false: a file-based app defaults to native AOT, which turns off the reflection-based JSON that
// Playwright's driver protocol uses.)
using Microsoft.Playwright;

var url = args.Length > 0 ? args[0] : "http://localhost:8081";
var output = args.Length > 1 ? args[1] : "docs/dashboard.png";

using var playwright = await Playwright.CreateAsync();
await using var browser = await playwright.Chromium.LaunchAsync(new()
{
    ExecutablePath = "/usr/bin/chromium",
    Headless = true,
    Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
});
var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1440, Height = 900 }, ColorScheme = ColorScheme.Dark });
await page.GotoAsync(url);
await page.GetByTestId("status-pill").Filter(new() { HasText = "Live" }).WaitForAsync(new() { Timeout = 30_000 });
await page.GetByTestId("window-15").ClickAsync();
foreach (var type in new[] { "ad_clicked", "location_update", "song_played", "trip_started" })
{
    await page.GetByTestId("legend-total-" + type).WaitForAsync(new() { Timeout = 30_000 });
}

// One more live update, so the cards and the current minute's bar are drawn from the same second.
await page.WaitForTimeoutAsync(1_500);
await page.ScreenshotAsync(new() { Path = output, FullPage = true });
Console.WriteLine($"{output}: {url} at 1440 px");

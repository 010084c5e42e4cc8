using Ongko.Data;
using Ongko.Reports;
using Ongko.Tests.Serve;
using PuppeteerSharp;

namespace Ongko.Tests.Reports;

/// <summary>
/// The reports of a real run opened from disk in Debian's headless chromium with every network request refused: every
/// image loads, the sections are there, the charts have a size, no console error, nothing asked of the network, and a
/// full-page screenshot is taken. Skips where chromium is not installed.
/// </summary>
[Collection("run report")]
public sealed class ReportBrowserTests(ReportFixture run)
{
    [BrowserFact]
    public async Task TrainingReportLoadsOfflineWithEveryImage()
    {
        var screenshot = await Check(run.TrainingReport, ReportHtml.Headings);
        Assert.True(screenshot.Height > 2000, $"the full page is only {screenshot.Height} px high");
    }

    [BrowserFact]
    public async Task PredictionReportLoadsOfflineWithEveryImage() => await Check(run.PredictionReport, RunReportTests.PredictionHeadings);

    /// <summary>
    /// The README's picture of a real run's report (or of any report, checked the same way):
    /// `ONGKO_REPORT_HTML=runs/x/report.html ONGKO_REPORT_SCREENSHOT=/tmp/report.png dotnet test --filter WritesTheScreenshot`
    /// (docs/report.png is that picture, cropped and scaled down).
    /// </summary>
    [ReportScreenshotFact]
    public async Task WritesTheScreenshot()
    {
        string report = Environment.GetEnvironmentVariable("ONGKO_REPORT_HTML")!;
        bool training = File.ReadAllText(report).Contains("<h2 id=\"curves\">", StringComparison.Ordinal);
        var screenshot = await Check(report, training ? ReportHtml.Headings : RunReportTests.PredictionHeadings);
        File.WriteAllBytes(Environment.GetEnvironmentVariable("ONGKO_REPORT_SCREENSHOT")!, screenshot.Png);
    }

    /// <summary>Opens the file offline and checks it; returns the full-page screenshot.</summary>
    static async Task<(byte[] Png, int Height)> Check(string report, IReadOnlyList<string> headings)
    {
        await using var browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = BrowserFactAttribute.Browser, Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
        });
        var page = await browser.NewPageAsync();
        await page.SetViewportAsync(new ViewPortOptions { Width = 1100, Height = 900 });
        var consoleErrors = new List<string>();
        var network = new List<string>();
        page.Console += (_, e) => { if (e.Message.Type == ConsoleType.Error) consoleErrors.Add(e.Message.Text); };
        page.PageError += (_, e) => consoleErrors.Add(e.Message);
        page.RequestFailed += (_, e) => { if (!e.Request.Url.StartsWith("data:", StringComparison.Ordinal)) network.Add("failed " + e.Request.Url); };
        await page.SetRequestInterceptionAsync(true);
        page.Request += async (_, e) =>
        {
            string url = e.Request.Url;
            if (url.StartsWith("data:", StringComparison.Ordinal) || url == new Uri(report).AbsoluteUri) await e.Request.ContinueAsync();
            else { network.Add(url); await e.Request.AbortAsync(); }
        };
        await page.GoToAsync(new Uri(report).AbsoluteUri, WaitUntilNavigation.Load);

        int images = await page.EvaluateExpressionAsync<int>("document.images.length");
        var broken = await page.EvaluateExpressionAsync<string[]>(
            "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt)");
        var shown = await page.EvaluateExpressionAsync<string[]>("Array.from(document.querySelectorAll('h2')).map(h => h.textContent)");
        var chartWidths = await page.EvaluateExpressionAsync<double[]>("Array.from(document.querySelectorAll('svg')).map(s => s.getBoundingClientRect().width)");
        byte[] png = await page.ScreenshotDataAsync(new ScreenshotOptions { FullPage = true, Type = ScreenshotType.Png });

        Assert.True(images > 0, "no images in the report");
        Assert.Empty(broken);
        Assert.Equal(headings, shown);
        Assert.All(chartWidths, width => Assert.True(width > 100, $"a chart is {width} px wide"));
        Assert.Empty(consoleErrors);
        Assert.Empty(network);
        var picture = ImageDecoder.Decode(png, 1, "screenshot");
        Assert.Equal(1100, picture.Width);
        Assert.True(picture.Data.Distinct().Count() > 16, "the screenshot is blank");
        return (png, picture.Height);
    }
}

/// <summary>Runs only when asked to write the README's report picture (and a browser is installed).</summary>
public sealed class ReportScreenshotFactAttribute : FactAttribute
{
    public ReportScreenshotFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("ONGKO_REPORT_HTML") is not { Length: > 0 } || Environment.GetEnvironmentVariable("ONGKO_REPORT_SCREENSHOT") is not { Length: > 0 })
            Skip = "writes the README's report picture only when ONGKO_REPORT_HTML (a report) and ONGKO_REPORT_SCREENSHOT (output PNG) are set";
        else if (BrowserFactAttribute.Browser is null) Skip = "no browser: Debian's chromium is not installed (apt-get install chromium)";
    }
}

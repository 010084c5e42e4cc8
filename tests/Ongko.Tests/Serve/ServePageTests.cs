using System.Text.Json;
using Ongko.Cli.Synth;
using PuppeteerSharp;
using PuppeteerSharp.Input;
using static Ongko.Tests.Serve.ServeFixture;

namespace Ongko.Tests.Serve;

/// <summary>A fact that is skipped, with the reason, when Debian's chromium is not installed.</summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    /// <summary>The browser binary (Debian's chromium; its /usr/bin/chromium is a wrapper script around this one), or null.</summary>
    public static string? Browser => new[] { "/usr/lib/chromium/chromium", "/usr/bin/chromium" }.FirstOrDefault(File.Exists);

    public BrowserFactAttribute()
    {
        if (Browser is null) Skip = "no browser: Debian's chromium is not installed (apt-get install chromium), so the page is not tested in a browser";
    }
}

/// <summary>Runs only when asked to write the README's screenshot (and a browser is installed).</summary>
public sealed class ScreenshotFactAttribute : FactAttribute
{
    public ScreenshotFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("ONGKO_SERVE_SCREENSHOT") is not { Length: > 0 } || Environment.GetEnvironmentVariable("ONGKO_SERVE_CHECKPOINT") is not { Length: > 0 })
            Skip = "writes the README's screenshot only when ONGKO_SERVE_SCREENSHOT (output PNG) and ONGKO_SERVE_CHECKPOINT are set";
        else if (BrowserFactAttribute.Browser is null) Skip = "no browser: Debian's chromium is not installed (apt-get install chromium)";
    }
}

/// <summary>
/// The drawing page in a real headless chromium: a digit drawn stroke by stroke with the mouse (pointer events), a stroke
/// by touch, live predictions, undo, clear, an opened file and the model card; every answer the page shows must be
/// the API's answer for the very pixels on its canvas.
/// </summary>
public sealed class ServePageTests(ServeFixture server) : IClassFixture<ServeFixture>
{
    [BrowserFact]
    public async Task DrawingADigitShowsTheApisAnswerForTheCanvas()
    {
        await using var browser = await Launch();
        var (page, consoleErrors) = await Open(browser, server.Address);
        Assert.Equal("small.safetensors · 6,718 parameters", await Text(page, "#model-name"));

        var strokes = DigitSkeletons.Variants[3][0];
        var At = await Draw(page, strokes);
        Assert.Equal(strokes.Length, await page.EvaluateExpressionAsync<int>("ongko.strokes.length"));
        Assert.False(await HintVisible(page));
        await AssertPageShowsTheApisAnswer(page);

        // A stroke with a finger.
        var (tx, ty) = At((0.2f, 0.95f));
        await page.Touchscreen.TouchStartAsync(tx, ty);
        for (int i = 1; i <= 6; i++) await page.Touchscreen.TouchMoveAsync(tx + 20 * i, ty - 3 * i);
        await page.Touchscreen.TouchEndAsync();
        await Settled(page);
        Assert.Equal(strokes.Length + 1, await page.EvaluateExpressionAsync<int>("ongko.strokes.length"));
        await AssertPageShowsTheApisAnswer(page);

        // Undo takes the last stroke away, and the answer follows.
        string before = await Canvas(page);
        await page.ClickAsync("#undo");
        await Settled(page);
        Assert.Equal(strokes.Length, await page.EvaluateExpressionAsync<int>("ongko.strokes.length"));
        Assert.NotEqual(before, await Canvas(page));
        await AssertPageShowsTheApisAnswer(page);

        // Clear empties the canvas and the answer.
        await page.ClickAsync("#clear");
        Assert.Equal("·", await Text(page, "#digit"));
        Assert.True(await HintVisible(page));

        // An opened file is classified as sent (not as redrawn on the canvas).
        using var folder = new TempDirectory();
        byte[] png = DigitPng(6, seed: 4, size: 96);
        File.WriteAllBytes(folder.File("six.png"), png);
        int count = await page.EvaluateExpressionAsync<int>("ongko.predictions");
        var input = (IElementHandle)await page.QuerySelectorAsync("#file");
        await input.UploadFileAsync(folder.File("six.png"));
        await page.WaitForFunctionAsync($"() => ongko.predictions > {count}");
        var expected = await Send(server.Client, HttpMethod.Post, "/api/predict", Raw(png));
        Assert.Equal(Probabilities(expected.Json), await PageProbabilities(page));

        // The model card is one click away.
        await page.ClickAsync("#card-button");
        Assert.True(await page.EvaluateExpressionAsync<bool>("document.getElementById('card').open"));
        string card = await Text(page, "#card-body");
        Assert.Contains("Test model", card);
        Assert.Contains("6,718", card);
        Assert.Contains("macro-F1 0.1100", card);

        Assert.Empty(consoleErrors);
    }

    /// <summary>
    /// The README's picture: `ONGKO_SERVE_SCREENSHOT=docs/serve.png ONGKO_SERVE_CHECKPOINT=CKPT dotnet test --filter WritesTheScreenshot`
    /// serves CKPT, draws ৩ and saves the page.
    /// </summary>
    [ScreenshotFact]
    public async Task WritesTheScreenshot()
    {
        string checkpoint = Environment.GetEnvironmentVariable("ONGKO_SERVE_CHECKPOINT")!;
        var options = new Ongko.Serve.ServeOptions { Urls = ["http://127.0.0.1:0"], PoolSize = 1 };
        string card = Path.ChangeExtension(checkpoint, ".md");
        await using var app = Ongko.Serve.DigitServer.Build(new Ongko.Serve.RecognizerPool(
            Ongko.Serve.ClassifierRecognizer.Load(checkpoint, 1, File.Exists(card) ? card : null)), options, TextWriter.Null);
        await app.StartAsync();
        await using var browser = await Launch();
        var (page, consoleErrors) = await Open(browser, new Uri(app.Urls.Single()));
        await Draw(page, DigitSkeletons.Variants[3][1]);
        Assert.Equal("৩", await Text(page, "#digit"));
        await page.ScreenshotAsync(Environment.GetEnvironmentVariable("ONGKO_SERVE_SCREENSHOT")!);
        Assert.Empty(consoleErrors);
        await app.StopAsync();
    }

    static Task<IBrowser> Launch() => Puppeteer.LaunchAsync(new LaunchOptions
    {
        ExecutablePath = BrowserFactAttribute.Browser, Headless = true,
        Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
    });

    /// <summary>A page on the server, once it has loaded its model; console errors are collected.</summary>
    static async Task<(IPage Page, List<string> ConsoleErrors)> Open(IBrowser browser, Uri address)
    {
        var page = await browser.NewPageAsync();
        await page.SetViewportAsync(new ViewPortOptions { Width = 1000, Height = 720, HasTouch = true });
        var consoleErrors = new List<string>();
        page.Console += (_, e) => { if (e.Message.Type == ConsoleType.Error) consoleErrors.Add(e.Message.Text); };
        await page.GoToAsync(address.ToString());
        await page.WaitForSelectorAsync("body[data-ready='1']");
        return (page, consoleErrors);
    }

    /// <summary>
    /// Draws a digit skeleton (unit-square strokes) stroke by stroke, as a person would: press, move through the points,
    /// release; after each stroke a new answer must appear. Returns the unit-square to page mapping.
    /// </summary>
    static async Task<Func<(float X, float Y), (decimal X, decimal Y)>> Draw(IPage page, (float X, float Y)[][] strokes)
    {
        var box = await page.EvaluateExpressionAsync<JsonElement>("(() => { const r = pad.getBoundingClientRect(); return [r.left, r.top, r.width]; })()");
        double left = box[0].GetDouble(), top = box[1].GetDouble(), side = box[2].GetDouble();
        (decimal X, decimal Y) At((float X, float Y) p) => ((decimal)(left + side * (0.15 + 0.7 * p.X)), (decimal)(top + side * (0.15 + 0.7 * p.Y)));
        int predictionsSeen = await page.EvaluateExpressionAsync<int>("ongko.predictions");
        foreach (var stroke in strokes.Select(Smooth))
        {
            var (x, y) = At(stroke[0]);
            await page.Mouse.MoveAsync(x, y);
            await page.Mouse.DownAsync();
            foreach (var point in stroke.Skip(1))
            {
                (x, y) = At(point);
                await page.Mouse.MoveAsync(x, y, new MoveOptions { Steps = 2 });
            }
            await page.Mouse.UpAsync();
            int now = await Settled(page);
            Assert.True(now > predictionsSeen, "no new prediction after a stroke");
            predictionsSeen = now;
        }
        return At;
    }

    /// <summary>A Catmull-Rom spline through the skeleton's points (six points a segment), as a hand moves.</summary>
    static (float X, float Y)[] Smooth((float X, float Y)[] points)
    {
        if (points.Length < 3) return points;
        var result = new List<(float X, float Y)> { points[0] };
        for (int i = 0; i + 1 < points.Length; i++)
        {
            var (p0, p1, p2, p3) = (points[Math.Max(i - 1, 0)], points[i], points[i + 1], points[Math.Min(i + 2, points.Length - 1)]);
            for (int k = 1; k <= 6; k++)
            {
                float t = k / 6f, t2 = t * t, t3 = t2 * t;
                float Blend(float a, float b, float c, float d) => 0.5f * (2 * b + (c - a) * t + (2 * a - 5 * b + 4 * c - d) * t2 + (3 * b - a - 3 * c + d) * t3);
                result.Add((Blend(p0.X, p1.X, p2.X, p3.X), Blend(p0.Y, p1.Y, p2.Y, p3.Y)));
            }
        }
        return result.ToArray();
    }

    /// <summary>Waits until no request is in flight or pending, then returns how many answers the page has shown.</summary>
    static async Task<int> Settled(IPage page)
    {
        await page.WaitForFunctionAsync("() => !ongko.busy && !ongko.dirty && ongko.predictions > 0");
        return await page.EvaluateExpressionAsync<int>("ongko.predictions");
    }

    static Task<bool> HintVisible(IPage page) => page.EvaluateExpressionAsync<bool>("getComputedStyle(document.getElementById('hint')).display !== 'none'");

    static Task<string> Text(IPage page, string selector) => page.EvaluateExpressionAsync<string>($"document.querySelector('{selector}').textContent");

    static Task<string> Canvas(IPage page) => page.EvaluateExpressionAsync<string>("pad.toDataURL('image/png')");

    static async Task<float[]> PageProbabilities(IPage page) =>
        (await page.EvaluateExpressionAsync<float[]>("ongko.last.probabilities"));

    /// <summary>Sends the canvas's pixels to the API and checks the page shows exactly that answer.</summary>
    async Task AssertPageShowsTheApisAnswer(IPage page)
    {
        string url = await Canvas(page);
        byte[] png = Convert.FromBase64String(url[(url.IndexOf(',') + 1)..]);
        var (status, json, text) = await Send(server.Client, HttpMethod.Post, "/api/predict", Raw(png));
        Assert.True(status == 200, text);
        var expected = Probabilities(json);
        Assert.Equal(expected, await PageProbabilities(page));
        int digit = json.GetProperty("digit").GetInt32();
        Assert.Equal("০১২৩৪৫৬৭৮৯"[digit].ToString(), await Text(page, "#digit"));
        Assert.Equal($"digit {digit}", await Text(page, "#latin"));
        Assert.EndsWith("% sure", await Text(page, "#confidence"));
        var widths = await page.EvaluateExpressionAsync<float[]>("[...document.querySelectorAll('#bars .fill')].map(f => parseFloat(f.style.width))");
        Assert.Equal(expected.Length, widths.Length);
        for (int c = 0; c < widths.Length; c++) Assert.InRange(widths[c], 100 * expected[c] - 0.051f, 100 * expected[c] + 0.051f);
        // And drawn that long: the best class's bar covers its share of the track on screen.
        var drawn = await page.EvaluateExpressionAsync<float[]>(
            "[...document.querySelectorAll('#bars .fill')].map(f => f.getBoundingClientRect().width / f.parentElement.getBoundingClientRect().width)");
        Assert.InRange(drawn[digit], expected[digit] - 0.01f, expected[digit] + 0.01f);
        Assert.Equal(digit, await page.EvaluateExpressionAsync<int>("[...document.querySelectorAll('#bars .bar')].findIndex(b => b.classList.contains('best'))"));
        Assert.Equal(28, await page.EvaluateExpressionAsync<int>("document.getElementById('seen').naturalWidth"));
    }
}

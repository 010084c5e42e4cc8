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
        await using var browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = BrowserFactAttribute.Browser, Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
        });
        await using var page = await browser.NewPageAsync();
        await page.SetViewportAsync(new ViewPortOptions { Width = 1000, Height = 760, HasTouch = true });
        var consoleErrors = new List<string>();
        page.Console += (_, e) => { if (e.Message.Type == ConsoleType.Error) consoleErrors.Add(e.Message.Text); };
        await page.GoToAsync(server.Address.ToString());
        await page.WaitForSelectorAsync("body[data-ready='1']");
        Assert.Equal("small.safetensors · 6,718 parameters", await Text(page, "#model-name"));

        // ৩ (3), stroke by stroke, as a person would: press, move through the skeleton's points, release.
        var box = await page.EvaluateExpressionAsync<JsonElement>("(() => { const r = pad.getBoundingClientRect(); return [r.left, r.top, r.width]; })()");
        double left = box[0].GetDouble(), top = box[1].GetDouble(), side = box[2].GetDouble();
        (decimal X, decimal Y) At((float X, float Y) p) => ((decimal)(left + side * (0.15 + 0.7 * p.X)), (decimal)(top + side * (0.15 + 0.7 * p.Y)));
        var strokes = DigitSkeletons.Variants[3][0];
        int predictionsSeen = 0;
        foreach (var stroke in strokes)
        {
            var (x, y) = At(stroke[0]);
            await page.Mouse.MoveAsync(x, y);
            await page.Mouse.DownAsync();
            foreach (var point in stroke.Skip(1))
            {
                (x, y) = At(point);
                await page.Mouse.MoveAsync(x, y, new MoveOptions { Steps = 4 });
            }
            await page.Mouse.UpAsync();
            int now = await Settled(page);
            Assert.True(now > predictionsSeen, "no new prediction after a stroke");
            predictionsSeen = now;
        }
        Assert.Equal(strokes.Length, await page.EvaluateExpressionAsync<int>("ongko.strokes.length"));
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
        Assert.True(await page.EvaluateExpressionAsync<bool>("!document.getElementById('hint').hidden"));

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

        if (Environment.GetEnvironmentVariable("ONGKO_SERVE_SCREENSHOT") is { Length: > 0 } screenshot)
        {
            await page.ClickAsync("#card-close");
            await page.ScreenshotAsync(screenshot);
        }
        Assert.Empty(consoleErrors);
    }

    /// <summary>Waits until no request is in flight or pending, then returns how many answers the page has shown.</summary>
    static async Task<int> Settled(IPage page)
    {
        await page.WaitForFunctionAsync("() => !ongko.busy && !ongko.dirty && ongko.predictions > 0");
        return await page.EvaluateExpressionAsync<int>("ongko.predictions");
    }

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
        Assert.Equal(digit, await page.EvaluateExpressionAsync<int>("[...document.querySelectorAll('#bars .bar')].findIndex(b => b.classList.contains('best'))"));
        Assert.Equal(28, await page.EvaluateExpressionAsync<int>("document.getElementById('seen').naturalWidth"));
    }
}

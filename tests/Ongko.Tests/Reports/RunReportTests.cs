using System.Globalization;
using System.Text.RegularExpressions;
using Ongko.Cli.Commands;
using Ongko.Cli.Synth;
using Ongko.Data;
using Ongko.Reports;
using Ongko.Runs;
using Ongko.Tests.Training;
using Ongko.Training;
using Ongko.Vision;

namespace Ongko.Tests.Reports;

/// <summary>A tiny real training run (synthetic digits, 2 epochs, seconds) and a prediction against ground truth, with their reports.</summary>
public sealed class ReportFixture : IDisposable
{
    readonly TempDirectory dir = new();

    public ReportFixture()
    {
        SyntheticDigitsWriter.Write(dir.File("data"), 200, seed: 3, size: 32);
        SyntheticDigitsWriter.Write(dir.File("held"), 60, seed: 4, size: 32);
        Outcome = new TrainingRun(TrainerTests.SmallConfig(dir.File("data"), dir.File("run"), 2)).Run();
        string held = Path.Combine(dir.File("held"), "training-s");
        PredictCommand.Run(held, Path.Combine(dir.File("run"), TrainingRun.BestCheckpointName), held + ".csv", dir.File("predict"), 64, TextWriter.Null);
    }

    public TrainingOutcome Outcome { get; }
    public string TrainingReport => Path.Combine(dir.File("run"), ReportObserver.FileName);
    public string PredictionReport => Path.Combine(dir.File("predict"), ReportObserver.FileName);
    public string Folder(string name) => dir.File(name);

    public void Dispose() => dir.Dispose();
}

/// <summary>One training run for both report test classes.</summary>
[CollectionDefinition("run report")]
public sealed class ReportCollection : ICollectionFixture<ReportFixture>;

/// <summary>report.html of a real run, read as text: every section, only embedded PNGs, nothing fetched, the best epoch's numbers.</summary>
[Collection("run report")]
public sealed class RunReportTests(ReportFixture run)
{
    public static readonly string[] PredictionHeadings = ["Config", "Data", "Per-class metrics", "Confusion matrix", "Worst mistakes", "Timings", "Machine"];

    [Fact]
    public void TrainingReportHasEverySectionAndOnlyEmbeddedPngs()
    {
        string html = File.ReadAllText(run.TrainingReport);
        Assert.Equal(ReportHtml.Headings, Headings(html));
        AssertSelfContained(html);
        // 48 training samples and at least one mistake of a 2-epoch model on 16x16 synthetic digits.
        Assert.True(Images(html).Count > 48, $"{Images(html).Count} images");
        Assert.Contains("finished: 2 epoch(s)", html);
        Assert.Contains("training-s", html);  // the data summary's source
        Assert.Equal(6, Regex.Matches(html, "<polyline").Count);  // loss, accuracy, macro-F1: train and valid each
    }

    [Fact]
    public void TrainingReportShowsTheBestEpochsValidation()
    {
        string html = File.ReadAllText(run.TrainingReport);
        var best = run.Outcome.History.Last(e => e.IsBest);
        var summary = Regex.Match(html, @"accuracy ([\d.]+) %, macro-F1 ([\d.]+), (\d+) images");
        Assert.True(summary.Success, "no accuracy line in the per-class section");
        Assert.Equal(best.ValidMacroF1.ToString("F4", CultureInfo.InvariantCulture), summary.Groups[2].Value);
        Assert.Equal((best.ValidAccuracy * 100).ToString("F2", CultureInfo.InvariantCulture), summary.Groups[1].Value);
        int validation = int.Parse(summary.Groups[3].Value, CultureInfo.InvariantCulture);
        Assert.Contains($"Validation images at epoch {best.Epoch} (the best epoch so far)", html);
        int wrong = (int)Math.Round((1 - best.ValidAccuracy) * validation);
        Assert.Equal(Math.Min(30, wrong), Regex.Matches(html, "class=\"card\"").Count);
        // Ranked by the probability of the wrong class, highest first.
        var confidences = Regex.Matches(html, @"predicted \d</span></div><div>\d: ([\d.]+) %").Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(confidences.OrderByDescending(c => c), confidences);
    }

    [Fact]
    public void PredictionReportHasItsSections()
    {
        string html = File.ReadAllText(run.PredictionReport);
        Assert.Equal(PredictionHeadings, Headings(html));
        AssertSelfContained(html);
        Assert.Contains("60 images", html);
        Assert.Contains("train_folders", html);  // the checkpoint's training config
    }

    [Fact]
    public void AnInterruptedRunKeepsTheReportOfItsFinishedEpochs()
    {
        using var cancel = new CancellationTokenSource();
        string output = run.Folder("stopped");
        // 160 training images in batches of 16: step 13 is in epoch 2.
        var stopped = new TrainingRun(TrainerTests.SmallConfig(run.Folder("data"), output, 2), new TrainerTests.StopAfter(13, cancel)).Run(cancel: cancel.Token);
        Assert.True(stopped.Interrupted);
        string html = File.ReadAllText(Path.Combine(output, ReportObserver.FileName));
        Assert.Contains("interrupted in epoch 2 of 2 (step 3)", html);
        Assert.Contains("Validation images at epoch 1", html);
        Assert.Empty(Directory.GetFiles(output, ".report.html*"));  // no temporary left
    }

    [Fact]
    public void TextFromFilesIsEscaped()
    {
        var image = new ByteImage(1, 4, 4);
        var content = new ReportContent
        {
            Title = "run <one>", ClassNames = ["0", "1"], Machine = MachineInfo.Current(),
            Configs = [("config", "output_dir: '<script>alert(1)</script>'")],
            Data = [new DataCounts("a&b<i>", "train", [1, 2])],
            Matrix = new ConfusionMatrix(2),
            Mistakes = [Mistake.From(image, "x\"><img src=x onerror=alert(1)>.png", 0, [0.1f, 0.9f])],
        };
        string html = ReportHtml.Build(content);
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("<i>", html);
        Assert.DoesNotContain("<img src=x", html);
        Assert.Contains("&lt;script&gt;", html);
        Assert.Contains("a&amp;b&lt;i&gt;", html);
        AssertSelfContained(html);
    }

    [Fact]
    public void WorstMistakesKeepsTheMostConfidentOnes()
    {
        var kept = new WorstMistakes(3);
        var image = new ByteImage(1, 2, 2);
        foreach (float p in new[] { 0.5f, 0.9f, 0.6f, 0.99f, 0.7f, 0.55f })
            kept.Add(Mistake.From(image, $"p{p}", 0, [1 - p, p]));
        Assert.Equal([0.99f, 0.9f, 0.7f], kept.Ranked().Select(m => m.Confidence));
        Assert.All(kept.Ranked(), m => Assert.Equal(1, m.Predicted));
    }

    /// <summary>The h2 headings in page order.</summary>
    internal static List<string> Headings(string html) =>
        Regex.Matches(html, "<h2 id=\"[^\"]+\">([^<]+)</h2>").Select(m => m.Groups[1].Value).ToList();

    /// <summary>Every src attribute's value.</summary>
    static List<string> Images(string html) => Regex.Matches(html, "<img [^>]*src=\"([^\"]*)\"").Select(m => m.Groups[1].Value).ToList();

    /// <summary>Nothing to fetch: no script, stylesheet link, import, URL or remote reference; every image a PNG data: URI that decodes.</summary>
    internal static void AssertSelfContained(string html)
    {
        foreach (string forbidden in new[] { "http://", "https://", "<script", "<link", "@import", "url(", "<iframe", "<object", "//cdn" })
            Assert.DoesNotContain(forbidden, html, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(Regex.Matches(html, "<img ").Count, Images(html).Count);
        Assert.Empty(Regex.Matches(html, "(?:src|href)=\"(?!data:)").Select(m => m.Value));
        foreach (string source in Images(html))
        {
            const string prefix = "data:image/png;base64,";
            Assert.StartsWith(prefix, source);
            byte[] png = Convert.FromBase64String(source[prefix.Length..]);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
            var decoded = ImageDecoder.Decode(png, 1, "report image");
            Assert.True(decoded.Width > 0 && decoded.Height > 0);
        }
    }
}

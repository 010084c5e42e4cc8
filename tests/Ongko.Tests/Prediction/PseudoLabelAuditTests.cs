using Ongko.Data;
using Ongko.Layers;
using Ongko.Models;
using Ongko.Prediction;
using Ongko.Serialization;
using Ongko.Tensors;
using Ongko.Tests.Cli;
using Ongko.Vision;

namespace Ongko.Tests.Prediction;

/// <summary>
/// Pseudo-labels and the label audit on small synthetic data whose answers are known: 10x10 pictures of one bright
/// row, read by "row models" whose class c is the brightness of row (c + offset) mod 10 (logit 10 for a full row).
/// </summary>
public class PseudoLabelAuditTests
{
    const int Side = 10;

    /// <summary>Logit of class c = Σ pixels of row (c + offset) mod 10, so a full bright row r gives class r - offset with p = e¹⁰ / (e¹⁰ + 9).</summary>
    static string RowModel(string path, int offset = 0)
    {
        var model = LayerFactory.Create([new LayerSpec("Flatten", [], 1, 0), new LayerSpec("Linear", ["10"], 2, 0)], "test").Build([1, Side, Side], new Rng(1));
        var linear = (Linear)model.Layers[1];
        var weight = linear.Weight.Value.Span;
        weight.Clear();
        linear.Bias!.Value.Span.Clear();
        for (int c = 0; c < 10; c++)
            for (int x = 0; x < Side; x++) weight[c * Side * Side + ((c + offset) % 10) * Side + x] = 1;
        Checkpoint.Save(path, model);
        return path;
    }

    /// <summary>Writes a picture with the given rows lit (brightness 0-255) as PNG.</summary>
    static string Picture(string path, params (int Row, byte Value)[] rows)
    {
        var image = new ByteImage(1, Side, Side);
        foreach (var (row, value) in rows)
            for (int x = 0; x < Side; x++) image[0, row, x] = value;
        File.WriteAllBytes(path, Ongko.Vision.PngWriter.Encode(image));
        return path;
    }

    /// <summary>dir/set/{prefix}{d}.png with row d lit for d = 0..9, and the rows "name,label" (label: <paramref name="label"/>(d)) of set.csv.</summary>
    static List<string> RowSet(TempDirectory dir, string prefix = "", Func<int, int>? label = null)
    {
        Directory.CreateDirectory(dir.File("set"));
        var rows = new List<string> { "filename,digit" };
        for (int d = 0; d < 10; d++) { Picture(dir.File($"set/{prefix}{d}.png"), (d, 255)); rows.Add($"{prefix}{d}.png,{label?.Invoke(d) ?? d}"); }
        return rows;
    }

    [Fact]
    public void PseudoLabelsKeepOnlyAgreedConfidentImagesAndTrainingReadsTheirCsv()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("unlabelled"));
        for (int d = 0; d < 10; d++) Picture(dir.File($"unlabelled/sure{d}.png"), (d, 255));
        Picture(dir.File("unlabelled/two-rows.png"), (3, 255), (4, 255));  // classes 3 and 4 at 0.5 each
        Picture(dir.File("unlabelled/faint.png"), (7, 60));                 // class 7, logit 2.35: p = e^2.35 / (e^2.35 + 9) ≈ 0.51
        var images = ImageFolderReader.Read(dir.File("unlabelled"));
        var agreeing = EnsembleClassifier.Load([RowModel(dir.File("a.safetensors")), RowModel(dir.File("b.safetensors"))]);

        var result = PseudoLabels.Label(agreeing, images, threshold: 0.9);
        double sure = Math.Exp(10) / (Math.Exp(10) + 9);
        Assert.Equal(12, result.Labels.Count);
        Assert.Equal(10, result.Kept);
        Assert.All(result.Labels.Where(l => l.Sample.Name.StartsWith("sure", StringComparison.Ordinal)), l =>
        {
            Assert.True(l.Kept);
            Assert.Equal(int.Parse(l.Sample.Name[4..5], System.Globalization.CultureInfo.InvariantCulture), l.Digit);
            Assert.Equal(sure, l.Confidence, 5);
        });
        Assert.False(result.Labels.Single(l => l.Sample.Name == "faint.png").Kept);
        Assert.Equal(Enumerable.Repeat(1, 10), result.KeptPerClass);
        Assert.Equal(12, result.PredictedPerClass.Sum());
        Assert.Equal((2, 2, 1), (result.PredictedPerClass[7], result.PredictedPerClass[3], result.PredictedPerClass[4]));  // faint -> 7, two-rows -> 3 (first maximum)
        Assert.Equal(11, PseudoLabels.Label(agreeing, images, threshold: 0.5).Kept);  // the faint one passes a low threshold

        // A member that reads every row as the next class disagrees everywhere: nothing is kept, however confident the average.
        var disagreeing = EnsembleClassifier.Load([RowModel(dir.File("a.safetensors")), RowModel(dir.File("c.safetensors"), offset: 1)]);
        var none = PseudoLabels.Label(disagreeing, images, threshold: 0);
        Assert.Equal(0, none.Kept);
        Assert.All(none.Labels, l => Assert.False(l.MembersAgree));

        // The CSV is a folder_csv source: the kept images with their pseudo-labels.
        PseudoLabels.WriteCsv(dir.File("labels.csv"), result);
        Assert.StartsWith("filename,digit,confidence\n", File.ReadAllText(dir.File("labels.csv")));
        var source = new DataSource { Type = SourceType.FolderCsv, Path = dir.File("unlabelled"), Csv = dir.File("labels.csv"), Use = SourceUse.Train };
        var samples = source.Read(10);
        Assert.Equal(10, samples.Count);
        Assert.All(samples, s => Assert.Equal($"sure{s.Label}.png", s.Name));
    }

    [Fact]
    public void PseudoLabelCommandPrintsKeptPerClassAndWritesTheCsv()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("images"));
        for (int d = 0; d < 10; d++) Picture(dir.File($"images/{d}.png"), (d, 255));
        Picture(dir.File("images/faint.png"), (2, 60));
        string model = RowModel(dir.File("a.safetensors"));
        var (code, output, error) = CliTests.Ongko("pseudo-label", dir.File("images"), "--checkpoint", model, model, "--threshold", "0.9", "-o", dir.File("out/labels.csv"));
        Assert.True(code == 0, error);
        Assert.Contains("Pseudo-labelled 11 image(s)", output);
        Assert.Contains("kept 10 (", output);
        Assert.Contains("    2         2       1", output);  // digit 2: predicted twice, kept once
        Assert.Equal(11, File.ReadAllLines(dir.File("out/labels.csv")).Length);

        (code, _, error) = CliTests.Ongko("pseudo-label", dir.File("images"), "--checkpoint", model, "--threshold", "1.5", "-o", dir.File("x.csv"));
        Assert.Equal(2, code);
        Assert.Contains("--threshold", error);
        (code, _, error) = CliTests.Ongko("pseudo-label", dir.File("nowhere"), "--checkpoint", model, "-o", dir.File("x.csv"));
        Assert.Equal(2, code);
        Assert.Contains("nowhere", error);
        Assert.DoesNotContain("   at ", error);
        Assert.False(File.Exists(dir.File("x.csv")));
    }

    [Fact]
    public void TheAuditFlagsWrongLabelsBlankImagesAndDoubtRankedByScore()
    {
        using var dir = new TempDirectory();
        var rows = RowSet(dir, "ok");
        Picture(dir.File("set/wrong.png"), (6, 255)); rows.Add("wrong.png,1");          // a 6 labelled 1
        Picture(dir.File("set/blank.png")); rows.Add("blank.png,5");                   // no ink at all
        Picture(dir.File("set/two.png"), (3, 255), (8, 255)); rows.Add("two.png,8");   // 3 or 8: p = 0.5 each, 3 first
        Picture(dir.File("set/two3.png"), (3, 255), (8, 255)); rows.Add("two3.png,3"); // as doubtful, but the given 3 is the top guess
        File.WriteAllLines(dir.File("set.csv"), rows);
        var samples = ImageFolderReader.Read(dir.File("set"), dir.File("set.csv"));
        var ensemble = EnsembleClassifier.Load([RowModel(dir.File("a.safetensors"))]);

        var result = LabelAudit.Run(ensemble, samples, new AuditOptions { Entropy = 0.25 });
        Assert.Equal(14, result.Audited);
        Assert.Equal(["set/blank.png", "set/wrong.png", "set/two.png"], result.Findings.Select(f => f.FileName));
        var blank = result.Findings[0];
        Assert.Equal("no-digit+unsure", blank.Reason);   // logits all 0: uniform, entropy 1
        Assert.Equal(1.0, blank.Entropy, 5);
        Assert.Equal(2 - 0.1, blank.Score, 5);          // 1 − p̄(given) + 1 for no digit
        var wrong = result.Findings[1];
        Assert.Equal(("wrong-label", 1, 6), (wrong.Reason, wrong.Given, wrong.Predicted));
        Assert.Equal(1 - 1 / (Math.Exp(10) + 9), wrong.Score, 5);
        var two = result.Findings[2];
        Assert.Equal(("unsure", 8, 3), (two.Reason, two.Given, two.Predicted));  // entropy (ln 2 + ...) / ln 10 ≈ 0.30
        Assert.Equal(1 - two.Probabilities[8], two.Score, 5);
        Assert.Equal(3 / 14.0, result.FlaggedFraction, 6);

        // Stricter thresholds flag less; the CSV lists what an exclude list needs.
        Assert.Equal(2, LabelAudit.Run(ensemble, samples, new AuditOptions { Entropy = 0.9 }).Findings.Count);
        LabelAudit.WriteCsv(dir.File("audit.csv"), result);
        var lines = File.ReadAllLines(dir.File("audit.csv"));
        Assert.Equal("filename,source,given,predicted,score,reason,entropy,p0,p1,p2,p3,p4,p5,p6,p7,p8,p9", lines[0]);
        Assert.StartsWith("set/blank.png,set,5,", lines[1]);
        Assert.StartsWith("set/wrong.png,set,1,6,", lines[2]);
        Assert.Equal(4, lines.Length);
    }

    [Fact]
    public void AuditCommandWritesTheCsvAndAContactSheet()
    {
        using var dir = new TempDirectory();
        File.WriteAllLines(dir.File("set.csv"), RowSet(dir, label: d => d == 4 ? 9 : d));
        string model = RowModel(dir.File("a.safetensors"));
        var (code, output, error) = CliTests.Ongko("audit", "--images", dir.File("set"), "--labels", dir.File("set.csv"), "--checkpoint", model, "-o", dir.File("out"));
        Assert.True(code == 0, error);
        Assert.Contains("flagged 1 (10.00 %): wrong-label 1, no-digit 0, unsure 0", output);
        Assert.Contains("set/4.png", output);
        Assert.Equal(2, File.ReadAllLines(dir.File("out/audit.csv")).Length);
        var sheet = ImageDecoder.Decode(dir.File("out/audit.png"), 3);
        Assert.True(sheet.Width >= 96 && sheet.Height >= 96);

        (code, _, error) = CliTests.Ongko("audit", "--checkpoint", model, "-o", dir.File("out2"));
        Assert.Equal(2, code);
        Assert.Contains("give one of --config", error);
        Assert.False(Directory.Exists(dir.File("out2")));
    }

    [Fact]
    public void PredictAndEvaluateTakeSeveralCheckpointsAndTta()
    {
        using var dir = new TempDirectory();
        File.WriteAllLines(dir.File("set.csv"), RowSet(dir));
        string a = RowModel(dir.File("a.safetensors")), b = RowModel(dir.File("b.safetensors"));
        var (code, output, error) = CliTests.Ongko("predict", dir.File("set"), "--checkpoint", a, "-o", dir.File("one"));
        Assert.True(code == 0, error);
        (code, output, error) = CliTests.Ongko("predict", dir.File("set"), "--checkpoint", a, b, "-o", dir.File("two"));
        Assert.True(code == 0, error);
        Assert.Contains("Ensemble of 2 checkpoint(s): probabilities averaged", output);
        Assert.Equal(File.ReadAllText(dir.File("one/predictions.csv")), File.ReadAllText(dir.File("two/predictions.csv")));  // two equal members = one

        (code, output, error) = CliTests.Ongko("evaluate", "--checkpoint", a, b, "--data-dir", dir.Path, "--folders", "set");
        Assert.True(code == 0, error);
        Assert.Contains("all                           10  100.00 %    1.0000", output);
        (code, output, error) = CliTests.Ongko("evaluate", "--checkpoint", a, "--tta", "--data-dir", dir.Path, "--folders", "set");
        Assert.True(code == 0, error);
        Assert.Contains("9 test-time views each", output);  // (a row model is not shift-invariant: its score drops)

        var twelve = LayerFactory.Create([new LayerSpec("Flatten", [], 1, 0), new LayerSpec("Linear", ["12"], 2, 0)], "test").Build([1, Side, Side], new Rng(1));
        Checkpoint.Save(dir.File("twelve.safetensors"), twelve);
        (code, _, error) = CliTests.Ongko("predict", dir.File("set"), "--checkpoint", a, dir.File("twelve.safetensors"), "-o", dir.File("bad"));
        Assert.Equal(2, code);
        Assert.Contains("twelve.safetensors", error);
        Assert.Contains("must share num_class", error);
        Assert.DoesNotContain("   at ", error);
        (code, _, error) = CliTests.Ongko("evaluate", "--checkpoint", a, dir.File("gone.safetensors"), "--data-dir", dir.Path, "--folders", "set");
        Assert.Equal(2, code);
        Assert.Contains("gone.safetensors", error);
    }
}

using System.CommandLine;
using Ongko.Data;
using Ongko.Prediction;
using Ongko.Serialization;

namespace Ongko.Cli.Commands;

/// <summary>
/// <c>ongko audit (--config CFG | --data-dir D --folders F,... | --images DIR --labels CSV) --checkpoint A B C -o OUT</c>:
/// looks at a labelled set with an ensemble and lists the images whose label it confidently contradicts, those with no
/// digit to find and those it cannot make sense of, ranked (<see cref="LabelAudit"/>): OUT/audit.csv and a contact
/// sheet of the top N, OUT/audit.png (each tile: the picture, given -> predicted, score).
/// </summary>
public static class AuditCommand
{
    public const string CsvName = "audit.csv", SheetName = "audit.png";

    public static Command Create()
    {
        var checkpoint = PredictCommand.CheckpointsOption("checkpoint(s) written by ongko train (best: models that did not train on these images)", required: true);
        var tta = PredictCommand.TtaOption();
        var config = new Option<string?>("--config", "-c") { Description = "audit every image of this config's sources (training and validation parts)" };
        var dataDir = new Option<string?>("--data-dir") { Description = "folder holding labelled folders in NumtaDB's layout (F/ + F.csv); overrides the config's data_dir" };
        var folders = new Option<string?>("--folders") { Description = "comma-separated folders under --data-dir to audit" };
        var images = new Option<string?>("--images") { Description = "a folder of images labelled by --labels" };
        var labels = new Option<string?>("--labels") { Description = "labels CSV (filename, digit) for --images" };
        var defaults = new AuditOptions();
        var contradiction = new Option<double>("--contradiction") { Description = $"wrong-label when another class's averaged probability is at least this (default {defaults.Contradiction}) ...", DefaultValueFactory = _ => defaults.Contradiction };
        var givenAtMost = new Option<double>("--given-at-most") { Description = $"... and the given class's at most this (default {defaults.GivenAtMost})", DefaultValueFactory = _ => defaults.GivenAtMost };
        var entropy = new Option<double>("--entropy") { Description = $"unsure when the averaged probabilities' entropy / ln(classes) is at least this (default {defaults.Entropy})", DefaultValueFactory = _ => defaults.Entropy };
        var top = new Option<int>("--top") { Description = "images on the contact sheet (default 100)", DefaultValueFactory = _ => 100 };
        var output = new Option<string>("--output-dir", "-o") { Description = "where to write audit.csv and audit.png", Required = true };
        var batch = new Option<int>("--batch") { Description = "images per batch", DefaultValueFactory = _ => 256 };
        var command = new Command("audit", "Find training images whose label an ensemble contradicts, or that show no digit; CSV + contact sheet")
            { checkpoint, tta, config, dataDir, folders, images, labels, contradiction, givenAtMost, entropy, top, output, batch };
        command.SetGuardedAction(parse =>
        {
            var samples = ReadSamples(parse.GetValue(config), parse.GetValue(dataDir), parse.GetValue(folders), parse.GetValue(images), parse.GetValue(labels));
            var options = new AuditOptions { Contradiction = parse.GetValue(contradiction), GivenAtMost = parse.GetValue(givenAtMost), Entropy = parse.GetValue(entropy) };
            string outputDir = parse.GetValue(output)!;
            return OutputFolder.RemovedIfRejected(outputDir, () =>
                Run(parse.GetValue(checkpoint)!, parse.GetValue(tta), samples, options, parse.GetValue(top), outputDir, parse.GetValue(batch), Console.Out));
        });
        return command;
    }

    /// <summary>The labelled images named by exactly one of: a config, --data-dir + --folders, --images + --labels.</summary>
    static List<Sample> ReadSamples(string? configPath, string? dataDir, string? folders, string? images, string? labels)
    {
        if ((images is null) != (labels is null)) throw new UsageException("--images and --labels go together");
        int given = (configPath is not null ? 1 : 0) + (folders is not null ? 1 : 0) + (images is not null ? 1 : 0);
        if (given != 1) throw new UsageException("give one of --config CFG, --data-dir D --folders F,..., or --images DIR --labels CSV");
        if (images is not null) return ImageFolderReader.Read(images, labels);
        if (folders is not null)
            return NumtaDbReader.Read(dataDir ?? throw new UsageException("--folders needs --data-dir"),
                                      folders.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        var trainConfig = ConfigFile.Load(configPath!);
        if (dataDir is not null) trainConfig.DataDir = dataDir;
        var (train, valid) = Runs.TrainingRun.ReadSplit(trainConfig);
        return [.. train, .. valid];
    }

    public static int Run(IReadOnlyList<string> checkpoints, bool tta, IReadOnlyList<Sample> samples, AuditOptions options, int top, string outputDir, int batchSize, TextWriter output)
    {
        if (batchSize < 1) throw new UsageException("--batch must be at least 1");
        if (top < 0) throw new UsageException("--top must be 0 or more");
        foreach (var (name, value) in new[] { ("--contradiction", options.Contradiction), ("--given-at-most", options.GivenAtMost), ("--entropy", options.Entropy) })
            if (!(value >= 0 && value <= 1)) throw new UsageException($"{name} must be in [0, 1], got {value}");
        if (samples.Count == 0) throw new DataException("no labelled images to audit");
        var ensemble = EnsembleClassifier.Load(checkpoints, tta ? TestTimeAugmentation.Standard : null);
        Runs.RunFiles.EnsureWritable(outputDir);
        var result = LabelAudit.Run(ensemble, samples, options, batchSize);
        string csvPath = Path.Combine(outputDir, CsvName);
        LabelAudit.WriteCsv(csvPath, result);

        string views = tta ? $", {TestTimeAugmentation.Standard.Views.Count} test-time views each" : "";
        output.WriteLine($"Audited {result.Audited:#,0} image(s) with {checkpoints.Count} checkpoint(s){views}: flagged {result.Findings.Count:#,0} " +
                         $"({result.FlaggedFraction:P2}): wrong-label {result.Count("wrong-label")}, no-digit {result.Count("no-digit")}, unsure {result.Count("unsure")}");
        output.WriteLine($"{"rank",4} {"score",6} {"given",5} {"pred",4}  {"reason",-22} filename");
        foreach (var (f, rank) in result.Findings.Take(10).Select((f, i) => (f, i + 1)))
            output.WriteLine($"{rank,4} {f.Score,6:F3} {f.Given,5} {f.Predicted,4}  {f.Reason,-22} {f.FileName}");
        if (result.Skipped.Count > 0) output.WriteLine($"{result.Skipped.Count} image(s) could not be read and were skipped");
        output.WriteLine($"Wrote {csvPath}");
        if (top > 0 && result.Findings.Count > 0)
        {
            string sheet = Path.Combine(outputDir, SheetName);
            var shown = result.Findings.Take(top).Select((f, i) =>
                (EvaluateCommand.Thumbnail(f.Sample, 96), 3, 96, 96, $"{i + 1}: {f.Given}>{f.Predicted} {f.Score:F2}")).ToList();
            Visuals.ImageGrid.Write(sheet, shown, 10);
            output.WriteLine($"Wrote {sheet} (the top {shown.Count}: rank: given>predicted score)");
        }
        return 0;
    }
}

using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Ongko.Cli.Visuals;
using Ongko.Data;
using Ongko.Prediction;
using Ongko.Reports;
using Ongko.Serialization;
using Ongko.Training;

namespace Ongko.Cli.Commands;

/// <summary>
/// <c>ongko predict INPUT... [--checkpoint CKPT] [--gt CSV]</c>: classifies image files, folders or globs with the
/// checkpoint's own model and preprocessing (the shipped model in models/ when no checkpoint is given); for one image
/// prints the digit (Bengali numeral and Latin digit), its confidence and the top 3; writes predictions.csv with all
/// class probabilities, and with ground truth reports accuracy, macro-F1, a per-class table, confusion_matrix.png and report.html.
/// </summary>
public static class PredictCommand
{
    public static Command Create()
    {
        var inputs = new Argument<string[]>("inputs") { Description = "image files (.png/.jpg/.jpeg), folders of them, or globs such as 'scans/*.jpg'", Arity = ArgumentArity.OneOrMore };
        var checkpoint = CheckpointsOption("checkpoint written by ongko train (default: the config's checkpoint_path, else the shipped model, models/" + ShippedModel.FileName + ")");
        var tta = TtaOption();
        var config = new Option<string?>("--config", "-c") { Description = "a training config: its checkpoint_path, gt_csv, output_dir and valid_batch are the defaults, as the reference's test.py uses them" };
        var gt = new Option<string?>("--gt") { Description = "ground-truth CSV with columns filename, digit (default: the config's gt_csv)" };
        var outputDir = new Option<string?>("--output-dir", "-o") { Description = "where to write predictions.csv (and confusion_matrix.png); default: the config's output_dir, else ." };
        var batch = new Option<int?>("--batch") { Description = "images per batch (default: the config's valid_batch, else 256)" };
        var threads = new Option<int?>("--threads") { Description = "worker threads for the model (default: all cores)" };
        var command = new Command("predict", "Recognise the digit in images (the shipped model, or a trained checkpoint)") { inputs, checkpoint, tta, config, gt, outputDir, batch, threads };
        command.SetGuardedAction(parse =>
        {
            if (parse.GetValue(threads) is { } t) Kernels.Threads.Count = t >= 1 ? t : throw new UsageException("--threads must be at least 1");
            var settings = parse.GetValue(config) is { } configPath ? ConfigFile.Load(configPath) : null;
            foreach (var key in settings?.IgnoredKeys ?? [])
                Console.Out.WriteLine($"note: '{key}' in {settings!.SourcePath} is a reference setting Ongko does not use; ignored");
            string[] checkpointPaths = parse.GetValue(checkpoint) is { Length: > 0 } given ? given
                : [settings?.CheckpointPath ?? (settings is null ? ShippedModel.Require() : throw new UsageException($"{settings.SourcePath} has no checkpoint_path; give --checkpoint CKPT"))];
            string output = parse.GetValue(outputDir) ?? settings?.OutputDir ?? ".";
            return OutputFolder.RemovedIfRejected(output, () =>
                Run(parse.GetValue(inputs)!, checkpointPaths, parse.GetValue(tta), parse.GetValue(gt) ?? settings?.GtCsv, output,
                    parse.GetValue(batch) ?? settings?.ValidBatch ?? 256, Console.Out));
        });
        return command;
    }

    public static int Run(string folder, string checkpointPath, string? gtPath, string outputDir, int batchSize, TextWriter output)
        => Run([folder], checkpointPath, gtPath, outputDir, batchSize, output);

    public static int Run(IReadOnlyList<string> inputs, string checkpointPath, string? gtPath, string outputDir, int batchSize, TextWriter output)
        => Run(inputs, [checkpointPath], false, gtPath, outputDir, batchSize, output);

    /// <summary>Several checkpoints: their probabilities are averaged (an ensemble); <paramref name="tta"/> adds the standard test-time views.</summary>
    public static int Run(IReadOnlyList<string> inputs, IReadOnlyList<string> checkpointPaths, bool tta, string? gtPath, string outputDir, int batchSize, TextWriter output)
    {
        if (batchSize < 1) throw new UsageException("--batch must be at least 1");
        _ = Task.Run(CompileImageCode);   // not awaited: it only makes the first batches start sooner
        var classifier = LoadClassifier(checkpointPaths, tta, output);
        int classes = classifier.ClassCount;
        var samples = PredictInputs.Expand(inputs);
        var truth = gtPath is null ? null : ReadTruth(gtPath, classes);
        int Truth(Sample s) => truth is null ? -1 : truth.TryGetValue(s.Name, out int d) || truth.TryGetValue(Path.GetFileName(s.Name), out d) ? d : -1;
        var labelled = samples.Select(s => new Sample(s.Path!, Truth(s), s.Source, s.Name)).ToList();
        Runs.RunFiles.EnsureWritable(outputDir);

        var clock = Stopwatch.StartNew();
        var answers = classifier.ClassifyFiles(labelled.Select(s => s.Path!).ToList(), batchSize);
        int[] predicted = answers.Predictions.Select(p => p?.Label ?? -1).ToArray();
        float[][] probability = answers.Predictions.Select(p => p?.Probabilities ?? []).ToArray();
        string csvPath = Path.Combine(outputDir, "predictions.csv");
        AtomicFile.WriteAllText(csvPath, PredictionsCsv(labelled.Select(s => s.Name).ToList(), predicted, probability, classes));
        double seconds = clock.Elapsed.TotalSeconds;
        var inv = CultureInfo.InvariantCulture;
        int done = predicted.Count(p => p >= 0);
        if (labelled.Count == 1 && done == 1)
        {
            // One picture: the answer itself, for people.
            var ranked = Enumerable.Range(0, classes).OrderByDescending(c => probability[0][c]).Take(3).ToList();
            string Digit(int c) => classes == 10 ? $"{ShippedModel.Bengali(c)} ({c})" : c.ToString(inv);
            output.WriteLine($"{labelled[0].Name}: {Digit(predicted[0])}  confidence {probability[0][predicted[0]]:P1}");
            output.WriteLine("top 3: " + string.Join(", ", ranked.Select(c => $"{Digit(c)} {probability[0][c]:P1}")));
            output.WriteLine($"wrote {csvPath}");
        }
        else output.WriteLine($"Classified {done:#,0} image(s) in {seconds:F2}s ({done / Math.Max(seconds, 1e-9):F0} images/s); wrote {csvPath}");
        if (answers.Skipped.Count > 0)
            output.WriteLine($"{answers.Skipped.Count} image(s) could not be read and were skipped: {string.Join("; ", answers.Skipped.Take(5))}");

        if (truth is not null)
        {
            Report(labelled, predicted, truth, classes, outputDir, output);
            string page = Path.Combine(outputDir, ReportObserver.FileName);
            PredictionReport.Write(page, labelled, probability.Select(p => p.Length > 0 ? p : null).ToList(), classes, classifier.Preprocessing, checkpointPaths, seconds);
            output.WriteLine($"Wrote {page}");
        }
        return 0;
    }

    /// <summary>
    /// Decodes, preprocesses (both ways: as found by <see cref="DigitLocator"/> and as the reference's pipeline) and writes a CSV row
    /// for a small picture, so that this code is compiled (JIT) on an idle core while the command loads the checkpoint and lists
    /// the inputs, not when every worker needs it at once. Nothing of it is kept.
    /// </summary>
    static void CompileImageCode()
    {
        var image = new Vision.ByteImage(1, 28, 28);
        for (int y = 6; y < 22; y++) image.Data[y * 28 + 12] = image.Data[y * 28 + 13] = 200;
        var decoded = ImageDecoder.Decode(Vision.PngWriter.Encode(image), 1, "warm-up", compact: true);
        foreach (var normalize in new[] { NormalizeMode.Digit, NormalizeMode.None })
        {
            var options = new AugmentOptions { Normalize = normalize, Channels = 1 };
            var pipeline = new ImagePipeline(options);
            pipeline.Process(pipeline.ToInputChannels(decoded), null, new float[pipeline.SampleSize]);
        }
        PredictionsCsv(["warm-up.png"], [0], [new float[10]], 10);
    }

    /// <summary>
    /// predictions.csv: a header, then one row per classified image (predicted[i] >= 0), in input order. Rows are
    /// formatted in parallel blocks straight into builders (no string per number) and joined in order.
    /// </summary>
    internal static string PredictionsCsv(IReadOnlyList<string> names, int[] predicted, float[][] probability, int classes)
    {
        var inv = CultureInfo.InvariantCulture;
        var header = new StringBuilder("FileName,Digit,Confidence");
        for (int c = 0; c < classes; c++) header.Append(",P").Append(c.ToString(inv));
        header.Append('\n');
        const int RowsPerBlock = 1024;
        var blocks = new string[(names.Count + RowsPerBlock - 1) / RowsPerBlock];
        Parallel.For(0, blocks.Length, new ParallelOptions { MaxDegreeOfParallelism = Kernels.Threads.Count }, b =>
        {
            var csv = new StringBuilder();
            for (int i = b * RowsPerBlock; i < Math.Min(names.Count, (b + 1) * RowsPerBlock); i++)
            {
                if (predicted[i] < 0) continue;
                csv.Append(CsvTable.Quote(names[i])).Append(inv, $",{predicted[i]},{probability[i][predicted[i]]:F4}");
                foreach (float p in probability[i]) csv.Append(inv, $",{p:F6}");
                csv.Append('\n');
            }
            blocks[b] = csv.ToString();
        });
        return string.Concat([header.ToString(), .. blocks]);
    }

    static void Report(List<Sample> samples, int[] predicted, Dictionary<string, int> truth, int classes, string outputDir, TextWriter output)
    {
        var matrix = new ConfusionMatrix(classes);
        int withoutTruth = 0;
        for (int i = 0; i < samples.Count; i++)
        {
            if (samples[i].Label < 0) { withoutTruth++; continue; }
            if (predicted[i] >= 0) matrix.Add(samples[i].Label, predicted[i]);
        }
        var names = samples.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        int missingImages = truth.Keys.Count(name => !names.Contains(name));
        output.WriteLine($"Ground truth: {matrix.Total:#,0} image(s) scored; {withoutTruth} image(s) have no row in the CSV; " +
                         $"{missingImages} CSV row(s) name no image in the folder");
        output.Write(matrix.Report());
        string picture = Path.Combine(outputDir, "confusion_matrix.png");
        ConfusionMatrixPlot.Write(picture, matrix.ToArray(), Enumerable.Range(0, classes).Select(c => c.ToString(CultureInfo.InvariantCulture)).ToArray());
        output.WriteLine($"Wrote {picture}");
    }

    /// <summary>--checkpoint A [B ...]: one or more checkpoints (an ensemble averages their probabilities).</summary>
    internal static Option<string[]> CheckpointsOption(string description, bool required = false) => new("--checkpoint")
    {
        Description = description + "; several (--checkpoint A B C) average their probabilities",
        AllowMultipleArgumentsPerToken = true, Arity = ArgumentArity.OneOrMore, Required = required,
    };

    /// <summary>--tta: the standard test-time views, averaged.</summary>
    internal static Option<bool> TtaOption() => new("--tta")
    {
        Description = "test-time augmentation: average over identity, 1-px shifts (right, left, down, up), 2-px diagonal shifts and ±8° rotations of the model input (9x the work)",
    };

    /// <summary>The checkpoints as one classifier (a single one without --tta: the plain DigitClassifier, as before).</summary>
    internal static IFileClassifier LoadClassifier(IReadOnlyList<string> checkpointPaths, bool tta, TextWriter? output = null)
    {
        if (checkpointPaths.Count == 1 && !tta) return new SingleClassifier(DigitClassifier.Load(checkpointPaths[0]));
        var ensemble = EnsembleClassifier.Load(checkpointPaths, tta ? TestTimeAugmentation.Standard : null);
        output?.WriteLine($"Ensemble of {checkpointPaths.Count} checkpoint(s){(tta ? $", {TestTimeAugmentation.Standard.Views.Count} test-time views each" : "")}: probabilities averaged");
        return new EnsembleFiles(ensemble);
    }

    internal interface IFileClassifier
    {
        int ClassCount { get; }
        /// <summary>The (first) model's preprocessing: report.html shows the worst mistakes as it prepares them.</summary>
        AugmentOptions Preprocessing { get; }
        FileClassification ClassifyFiles(IReadOnlyList<string> paths, int batchSize);
    }

    sealed class SingleClassifier(DigitClassifier classifier) : IFileClassifier
    {
        public int ClassCount => classifier.ClassCount;
        public AugmentOptions Preprocessing => classifier.Preprocessing;
        public FileClassification ClassifyFiles(IReadOnlyList<string> paths, int batchSize) => classifier.ClassifyFiles(paths, batchSize);
    }

    sealed class EnsembleFiles(EnsembleClassifier ensemble) : IFileClassifier
    {
        public int ClassCount => ensemble.ClassCount;
        public AugmentOptions Preprocessing => ensemble.Members[0].Preprocessing;
        public FileClassification ClassifyFiles(IReadOnlyList<string> paths, int batchSize)
        {
            var answers = ensemble.ClassifyFiles(paths, batchSize);
            return new FileClassification(answers.Predictions.Select(p => p?.ToDigitPrediction()).ToList(), answers.Skipped);
        }
    }

    /// <summary>filename → digit from a CSV with columns filename and digit (the reference's gt_csv).</summary>
    static Dictionary<string, int> ReadTruth(string path, int classes)
    {
        var table = CsvTable.Read(path);
        int file = table.RequiredColumn("filename"), digit = table.RequiredColumn("digit");
        var truth = new Dictionary<string, int>(StringComparer.Ordinal);
        var firstLine = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (line, fields) in table.Rows)
        {
            table.RequireFields(line, fields, Math.Max(file, digit));
            if (!int.TryParse(fields[digit], NumberStyles.Integer, CultureInfo.InvariantCulture, out int label) || label < 0 || label >= classes)
                throw new DataException($"digit '{fields[digit]}' is not a class 0..{classes - 1}", path, line);
            table.RequireUnique(firstLine, fields[file], line);
            truth[fields[file]] = label;
        }
        return truth;
    }
}

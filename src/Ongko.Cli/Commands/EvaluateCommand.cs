using System.CommandLine;
using Ongko.Data;
using Ongko.Prediction;
using Ongko.Serialization;
using Ongko.Training;

namespace Ongko.Cli.Commands;

/// <summary>
/// <c>ongko evaluate --checkpoint CKPT (--config CFG | --data-dir D --folders F,...)</c>: a checkpoint's accuracy and
/// macro-F1 per source (NumtaDB's database, a folder) on a config's validation split, or on whole labelled folders.
/// </summary>
public static class EvaluateCommand
{
    public static Command Create()
    {
        var checkpoint = PredictCommand.CheckpointsOption("checkpoint written by ongko train", required: true);
        var tta = PredictCommand.TtaOption();
        var config = new Option<string?>("--config", "-c") { Description = "score the validation split this config trains with (its data_dir, train_folders, seed, valid_fraction)" };
        var dataDir = new Option<string?>("--data-dir") { Description = "folder holding the labelled folders (NumtaDB layout: F/ + F.csv); overrides the config's data_dir" };
        var folders = new Option<string?>("--folders") { Description = "comma-separated folders under --data-dir, scored whole (default: the config's train_folders, validation split only)" };
        var batch = new Option<int>("--batch") { Description = "images per batch", DefaultValueFactory = _ => 256 };
        var failures = new Option<string?>("--failures") { Description = "PNG of up to 24 misclassified images (spread over the set): the picture and what the model saw, true -> predicted digit" };
        var robustness = new Option<bool>("--robustness") { Description = "also print accuracy per picture size (longest side), per ink polarity (dark on light / light on dark) and whether a digit was found" };
        var command = new Command("evaluate", "Accuracy and macro-F1 of a checkpoint per source, on a config's validation split or on labelled folders")
            { checkpoint, tta, config, dataDir, folders, batch, failures, robustness };
        command.SetGuardedAction(parse =>
        {
            string? configPath = parse.GetValue(config), folderList = parse.GetValue(folders);
            var trainConfig = configPath is null ? null : ConfigFile.Load(configPath);
            if (trainConfig is null && folderList is null) throw new UsageException("give --config (its validation split) or --folders");
            if (parse.GetValue(dataDir) is { } d && trainConfig is not null) trainConfig.DataDir = d;
            List<Sample> samples;
            if (folderList is not null)
            {
                string directory = parse.GetValue(dataDir) ?? trainConfig?.DataDir ?? throw new UsageException("--folders needs --data-dir");
                samples = NumtaDbReader.Read(directory, folderList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            }
            else
            {
                // Exactly the split the training run made (sources or data_dir + train_folders, seed, valid_fraction).
                samples = Runs.TrainingRun.ReadSplit(trainConfig!).Validation;
            }
            return Run(parse.GetValue(checkpoint)!, parse.GetValue(tta), samples, parse.GetValue(batch), parse.GetValue(failures), Console.Out, parse.GetValue(robustness));
        });
        return command;
    }

    public static int Run(string checkpointPath, List<Sample> samples, int batchSize, string? failurePicture, TextWriter output)
        => Run([checkpointPath], false, samples, batchSize, failurePicture, output);

    /// <summary>Several checkpoints are scored as an ensemble (probabilities averaged); <paramref name="tta"/> adds the standard test-time views.</summary>
    public static int Run(IReadOnlyList<string> checkpointPaths, bool tta, List<Sample> samples, int batchSize, string? failurePicture, TextWriter output,
        bool robustness = false)
    {
        if (batchSize < 1) throw new UsageException("--batch must be at least 1");
        if (samples.Count == 0) throw new DataException("no labelled images to score");
        var ensemble = EnsembleClassifier.Load(checkpointPaths, tta ? TestTimeAugmentation.Standard : null);
        if (checkpointPaths.Count > 1 || tta)
            output.WriteLine($"Ensemble of {checkpointPaths.Count} checkpoint(s){(tta ? $", {TestTimeAugmentation.Standard.Views.Count} test-time views each" : "")}: probabilities averaged");
        int classes = ensemble.ClassCount;
        var answers = ensemble.ClassifySamples(samples, batchSize);
        var perSource = new SortedDictionary<string, ConfusionMatrix>(StringComparer.Ordinal);
        var all = new ConfusionMatrix(classes);
        var wrong = new List<(int Index, int Predicted, float Confidence)>();
        for (int i = 0; i < samples.Count; i++)
        {
            if (answers.Predictions[i] is not { } answer) continue;
            var sample = samples[i];
            if (!perSource.TryGetValue(sample.Source, out var matrix)) perSource[sample.Source] = matrix = new ConfusionMatrix(classes);
            matrix.Add(sample.Label, answer.Label);
            all.Add(sample.Label, answer.Label);
            if (answer.Label != sample.Label) wrong.Add((i, answer.Label, answer.Confidence));
        }
        output.WriteLine($"{"source",-24} {"images",7} {"accuracy",9} {"macro-F1",9}");
        foreach (var (source, matrix) in perSource)
            output.WriteLine($"{source,-24} {matrix.Total,7} {matrix.Accuracy,9:P2} {matrix.MacroF1,9:F4}");
        output.WriteLine($"{"all",-24} {all.Total,7} {all.Accuracy,9:P2} {all.MacroF1,9:F4}");
        if (answers.Skipped.Count > 0) output.WriteLine($"{answers.Skipped.Count} image(s) could not be read and were skipped");
        if (robustness)
        {
            var predicted = new int?[samples.Count];
            for (int i = 0; i < samples.Count; i++) predicted[i] = answers.Predictions[i]?.Label;
            WriteRobustness(RobustnessBreakdown.Compute(samples, predicted, classes), output);
        }
        if (failurePicture is not null && wrong.Count > 0)
        {
            var spread = Enumerable.Range(0, Math.Min(24, wrong.Count)).Select(k => wrong[k * wrong.Count / Math.Min(24, wrong.Count)]).ToList();
            WriteFailures(failurePicture, samples, spread, new ImagePipeline(ensemble.Members[0].Preprocessing));
            output.WriteLine($"Wrote {failurePicture} ({Math.Min(24, wrong.Count)} of {wrong.Count} misclassified)");
        }
        return 0;
    }

    static void WriteRobustness(IReadOnlyList<RobustnessBreakdown.Group> groups, TextWriter output)
    {
        string? aspect = null;
        foreach (var group in groups)
        {
            if (group.Aspect != aspect)
            {
                aspect = group.Aspect;
                output.WriteLine();
                output.WriteLine($"{aspect,-24} {"images",7} {"accuracy",9} {"macro-F1",9}");
            }
            // Macro-F1 only where every class has examples; over a few classes it would mostly average absent ones.
            var m = group.Matrix;
            bool everyClass = Enumerable.Range(0, m.ClassCount).All(c => m.ForClass(c).Support > 0);
            output.WriteLine($"{group.Name,-24} {m.Total,7} {m.Accuracy,9:P2} {(everyClass ? m.MacroF1.ToString("F4") : "-"),9}");
        }
    }

    /// <summary>The sample's picture as RGB [3, side, side] in [0, 1]: fitted into the square (aspect kept), top-left aligned.</summary>
    internal static float[] Thumbnail(Sample sample, int side)
    {
        var picture = sample.Image ?? ImageDecoder.Decode(sample.Path!, 3);
        double fit = (double)side / Math.Max(picture.Height, picture.Width);
        var shown = Vision.Resize.Area(picture, Math.Max(1, (int)(picture.Height * fit)), Math.Max(1, (int)(picture.Width * fit)));
        var square = new float[3 * side * side];
        for (int c = 0; c < 3; c++)  // a grey picture (in-memory sets) repeats its plane
            for (int y = 0; y < shown.Height; y++)
                for (int x = 0; x < shown.Width; x++)
                    square[(c * side + y) * side + x] = shown[Math.Min(c, shown.Channels - 1), y, x] / 255f;
        return square;
    }

    /// <summary>Each failure as two cells: the picture (fitted into 96x96) and the model's input, captioned true -> predicted.</summary>
    static void WriteFailures(string path, List<Sample> samples, List<(int Index, int Predicted, float Confidence)> wrong, ImagePipeline pipeline)
    {
        var items = new List<(float[], int, int, int, string)>();
        foreach (var (index, predicted, confidence) in wrong)
        {
            var sample = samples[index];
            items.Add((Thumbnail(sample, 96), 3, 96, 96, $"{sample.Label} -> {predicted} ({confidence:F2})"));
            var seen = new float[pipeline.SampleSize];
            var options = pipeline.Options;
            pipeline.Process(sample.Image ?? ImageDecoder.DecodeCompact(sample.Path!, options.Channels), null, seen);
            var large = new float[96 * 96];
            for (int y = 0; y < 96; y++)
                for (int x = 0; x < 96; x++) large[y * 96 + x] = seen[(y * options.Height / 96) * options.Width + x * options.Width / 96];
            items.Add((large, 1, 96, 96, "model input"));
        }
        Visuals.ImageGrid.Write(path, items, 8);
    }
}

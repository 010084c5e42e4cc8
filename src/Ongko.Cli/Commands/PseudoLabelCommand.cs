using System.CommandLine;
using Ongko.Data;
using Ongko.Prediction;

namespace Ongko.Cli.Commands;

/// <summary>
/// <c>ongko pseudo-label DIR --checkpoint A B C [--threshold T] [--tta] -o labels.csv</c>: classifies the unlabelled
/// images of a folder with an ensemble and writes a labels CSV (filename, digit, confidence) of the images on which
/// every member agrees and the averaged probability reaches the threshold; prints kept/total per class.
/// </summary>
public static class PseudoLabelCommand
{
    /// <summary>The default threshold: models trained with label_smoothing 0.1 top out near 0.91, so 0.95 would keep nothing.</summary>
    public const double DefaultThreshold = 0.85;

    public static Command Create()
    {
        var folder = new Argument<string>("folder") { Description = "folder of unlabelled .png/.jpg/.jpeg images (not its subfolders)" };
        var checkpoint = PredictCommand.CheckpointsOption("checkpoint(s) written by ongko train", required: true);
        var tta = PredictCommand.TtaOption();
        var threshold = new Option<double>("--threshold") { Description = $"keep an image when all members agree and the averaged probability is at least this (default {DefaultThreshold})", DefaultValueFactory = _ => DefaultThreshold };
        var output = new Option<string>("--output", "-o") { Description = "labels CSV to write (filename, digit, confidence): a folder_csv source for training", Required = true };
        var batch = new Option<int>("--batch") { Description = "images per batch", DefaultValueFactory = _ => 256 };
        var command = new Command("pseudo-label", "Label unlabelled images with an ensemble where it agrees confidently, as a labels CSV for training")
            { folder, checkpoint, tta, threshold, output, batch };
        command.SetGuardedAction(parse => Run(parse.GetValue(folder)!, parse.GetValue(checkpoint)!, parse.GetValue(tta), parse.GetValue(threshold),
                                              parse.GetValue(output)!, parse.GetValue(batch), Console.Out));
        return command;
    }

    public static int Run(string folder, IReadOnlyList<string> checkpoints, bool tta, double threshold, string outputCsv, int batchSize, TextWriter output)
    {
        if (batchSize < 1) throw new UsageException("--batch must be at least 1");
        if (!(threshold >= 0 && threshold <= 1)) throw new UsageException($"--threshold must be a probability in [0, 1], got {threshold}");
        if (Directory.Exists(outputCsv)) throw new UsageException($"-o {outputCsv} is a folder; give the CSV file to write");
        var images = ImageFolderReader.Read(folder);
        var ensemble = EnsembleClassifier.Load(checkpoints, tta ? TestTimeAugmentation.Standard : null);
        var result = PseudoLabels.Label(ensemble, images, threshold, batchSize);
        PseudoLabels.WriteCsv(outputCsv, result);

        int[] predicted = result.PredictedPerClass, kept = result.KeptPerClass;
        string views = tta ? $", {TestTimeAugmentation.Standard.Views.Count} test-time views each" : "";
        output.WriteLine($"Pseudo-labelled {images.Count:#,0} image(s) of {folder} with {checkpoints.Count} checkpoint(s){views}: " +
                         $"kept {result.Kept:#,0} ({result.Kept / (double)Math.Max(1, images.Count):P1}) where every member agrees and the averaged probability >= {threshold}");
        output.WriteLine($"{"digit",5} {"predicted",9} {"kept",7}");
        for (int c = 0; c < result.ClassCount; c++) output.WriteLine($"{c,5} {predicted[c],9} {kept[c],7}");
        output.WriteLine($"{"all",5} {predicted.Sum(),9} {kept.Sum(),7}");
        if (result.Skipped.Count > 0)
            output.WriteLine($"{result.Skipped.Count} image(s) could not be read and were skipped: {string.Join("; ", result.Skipped.Take(5))}");
        output.WriteLine($"Wrote {outputCsv}; train on it with a source: {{type: folder_csv, path: {folder}, csv: {outputCsv}, use: train}}");
        return 0;
    }
}

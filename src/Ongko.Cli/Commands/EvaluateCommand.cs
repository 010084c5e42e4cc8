using System.CommandLine;
using Ongko.Data;
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
        var checkpoint = new Option<string>("--checkpoint") { Description = "checkpoint written by ongko train", Required = true };
        var config = new Option<string?>("--config", "-c") { Description = "score the validation split this config trains with (its data_dir, train_folders, seed, valid_fraction)" };
        var dataDir = new Option<string?>("--data-dir") { Description = "folder holding the labelled folders (NumtaDB layout: F/ + F.csv); overrides the config's data_dir" };
        var folders = new Option<string?>("--folders") { Description = "comma-separated folders under --data-dir, scored whole (default: the config's train_folders, validation split only)" };
        var batch = new Option<int>("--batch") { Description = "images per batch", DefaultValueFactory = _ => 256 };
        var failures = new Option<string?>("--failures") { Description = "PNG of up to 24 misclassified images (spread over the set): the picture and what the model saw, true -> predicted digit" };
        var command = new Command("evaluate", "Accuracy and macro-F1 of a checkpoint per source, on a config's validation split or on labelled folders")
            { checkpoint, config, dataDir, folders, batch, failures };
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
            return Run(parse.GetValue(checkpoint)!, samples, parse.GetValue(batch), parse.GetValue(failures), Console.Out);
        });
        return command;
    }

    public static int Run(string checkpointPath, List<Sample> samples, int batchSize, string? failurePicture, TextWriter output)
    {
        if (batchSize < 1) throw new UsageException("--batch must be at least 1");
        if (samples.Count == 0) throw new DataException("no labelled images to score");
        var content = Checkpoint.Read(checkpointPath);
        var state = TrainingCheckpoint.ReadState(content.Metadata, checkpointPath);
        var model = Checkpoint.LoadModel(checkpointPath, content);
        CheckpointMetadata.CheckModel(state.ClassCount, state.Preprocessing, model, checkpointPath);
        var options = state.Preprocessing.Clone();
        options.Augment = false;
        var loader = new DataLoader(samples, options, batchSize, shuffle: false, train: false, seed: 0, classCount: state.ClassCount);
        var perSource = new SortedDictionary<string, ConfusionMatrix>(StringComparer.Ordinal);
        var wrong = new List<(int Index, int Predicted, float Confidence)>();
        var (_, all) = Evaluation.Run(model, loader, state.ClassCount, (batch, probabilities) =>
        {
            for (int n = 0; n < batch.Count; n++)
            {
                var sample = samples[batch.SampleIndices[n]];
                if (!perSource.TryGetValue(sample.Source, out var matrix)) perSource[sample.Source] = matrix = new ConfusionMatrix(state.ClassCount);
                var row = probabilities.Slice(n * state.ClassCount, state.ClassCount);
                int predicted = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(row);
                matrix.Add(sample.Label, predicted);
                if (predicted != sample.Label) wrong.Add((batch.SampleIndices[n], predicted, row[predicted]));
            }
        });
        output.WriteLine($"{"source",-24} {"images",7} {"accuracy",9} {"macro-F1",9}");
        foreach (var (source, matrix) in perSource)
            output.WriteLine($"{source,-24} {matrix.Total,7} {matrix.Accuracy,9:P2} {matrix.MacroF1,9:F4}");
        output.WriteLine($"{"all",-24} {all.Total,7} {all.Accuracy,9:P2} {all.MacroF1,9:F4}");
        if (loader.SkippedCount > 0) output.WriteLine($"{loader.SkippedCount} image(s) could not be read and were skipped");
        if (failurePicture is not null && wrong.Count > 0)
        {
            var ordered = wrong.OrderBy(w => w.Index).ToList();
            var spread = Enumerable.Range(0, Math.Min(24, ordered.Count)).Select(k => ordered[k * ordered.Count / Math.Min(24, ordered.Count)]).ToList();
            WriteFailures(failurePicture, samples, spread, loader.Pipeline);
            output.WriteLine($"Wrote {failurePicture} ({Math.Min(24, wrong.Count)} of {wrong.Count} misclassified)");
        }
        return 0;
    }

    /// <summary>Each failure as two cells: the picture (fitted into 96x96) and the model's input, captioned true -> predicted.</summary>
    static void WriteFailures(string path, List<Sample> samples, List<(int Index, int Predicted, float Confidence)> wrong, ImagePipeline pipeline)
    {
        var items = new List<(float[], int, int, int, string)>();
        foreach (var (index, predicted, confidence) in wrong)
        {
            var sample = samples[index];
            var picture = sample.Image ?? ImageDecoder.Decode(sample.Path!, 3);
            double fit = 96.0 / Math.Max(picture.Height, picture.Width);
            var shown = Vision.Resize.Area(picture, Math.Max(1, (int)(picture.Height * fit)), Math.Max(1, (int)(picture.Width * fit)));
            var pixels = shown.Data.Take(3 * shown.PlaneSize).Select(b => b / 255f).ToArray();
            var square = new float[3 * 96 * 96];
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < shown.Height; y++)
                    Array.Copy(pixels, (c * shown.Height + y) * shown.Width, square, (c * 96 + y) * 96, shown.Width);
            items.Add((square, 3, 96, 96, $"{sample.Label} -> {predicted} ({confidence:F2})"));
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

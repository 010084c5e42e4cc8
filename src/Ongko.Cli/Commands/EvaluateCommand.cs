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
        var command = new Command("evaluate", "Accuracy and macro-F1 of a checkpoint per source, on a config's validation split or on labelled folders")
            { checkpoint, config, dataDir, folders, batch };
        command.SetGuardedAction(parse =>
        {
            string? configPath = parse.GetValue(config), folderList = parse.GetValue(folders);
            var trainConfig = configPath is null ? null : ConfigFile.Load(configPath);
            string? directory = parse.GetValue(dataDir) ?? trainConfig?.DataDir;
            if (directory is null) throw new UsageException("give --data-dir (or a --config with data_dir)");
            if (trainConfig is null && folderList is null) throw new UsageException("give --config (its validation split) or --folders");
            List<Sample> samples;
            if (folderList is not null)
                samples = NumtaDbReader.Read(directory, folderList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            else
                samples = DataSplit.Stratified(NumtaDbReader.Read(directory, trainConfig!.TrainFolders, trainConfig.NumClass),
                                               trainConfig.ValidationFraction, trainConfig.Seed).Validation;
            return Run(parse.GetValue(checkpoint)!, samples, parse.GetValue(batch), Console.Out);
        });
        return command;
    }

    public static int Run(string checkpointPath, List<Sample> samples, int batchSize, TextWriter output)
    {
        if (batchSize < 1) throw new UsageException("--batch must be at least 1");
        if (samples.Count == 0) throw new DataException("no labelled images to score");
        var content = Checkpoint.Read(checkpointPath);
        var state = TrainingState.FromMetadata(content.Metadata, checkpointPath);
        var model = Checkpoint.LoadModel(checkpointPath, content);
        CheckpointMetadata.CheckModel(state.ClassCount, state.Preprocessing, model, checkpointPath);
        var options = state.Preprocessing.Clone();
        options.Augment = false;
        var loader = new DataLoader(samples, options, batchSize, shuffle: false, train: false, seed: 0, classCount: state.ClassCount);
        var perSource = new SortedDictionary<string, ConfusionMatrix>(StringComparer.Ordinal);
        var (_, all) = Evaluation.Run(model, loader, state.ClassCount, (batch, probabilities) =>
        {
            for (int n = 0; n < batch.Count; n++)
            {
                var sample = samples[batch.SampleIndices[n]];
                if (!perSource.TryGetValue(sample.Source, out var matrix)) perSource[sample.Source] = matrix = new ConfusionMatrix(state.ClassCount);
                matrix.Add(sample.Label, System.Numerics.Tensors.TensorPrimitives.IndexOfMax(probabilities.Slice(n * state.ClassCount, state.ClassCount)));
            }
        });
        output.WriteLine($"{"source",-24} {"images",7} {"accuracy",9} {"macro-F1",9}");
        foreach (var (source, matrix) in perSource)
            output.WriteLine($"{source,-24} {matrix.Total,7} {matrix.Accuracy,9:P2} {matrix.MacroF1,9:F4}");
        output.WriteLine($"{"all",-24} {all.Total,7} {all.Accuracy,9:P2} {all.MacroF1,9:F4}");
        if (loader.SkippedCount > 0) output.WriteLine($"{loader.SkippedCount} image(s) could not be read and were skipped");
        return 0;
    }
}

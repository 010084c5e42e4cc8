using System.CommandLine;
using Ongko.Cli.Visuals;
using Ongko.Data;
using Ongko.Runs;
using Ongko.Training;

namespace Ongko.Cli.Commands;

/// <summary><c>ongko preview --config FILE</c>: a PNG grid of training (augmented) and validation samples with labels.</summary>
public static class PreviewCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config", "-c") { Description = "YAML config (data_dir, augment)", Required = true };
        var dataDir = new Option<string?>("--data-dir") { Description = "override data_dir" };
        var output = new Option<string>("--output", "-o") { Description = "PNG to write", DefaultValueFactory = _ => "dataset.png" };
        var command = new Command("preview", "Draw training and validation samples after preprocessing and augmentation") { config, dataDir, output };
        command.SetGuardedAction(parse =>
        {
            var trainConfig = Serialization.ConfigFile.Load(parse.GetValue(config)!);
            if (parse.GetValue(dataDir) is { } dir) trainConfig.DataDir = dir;
            var trainer = new TrainingRun(trainConfig);
            trainer.Prepare();
            string path = parse.GetValue(output)!;
            Write(path, trainer.TrainLoader!, trainer.ValidLoader!);
            Console.WriteLine($"Wrote {path}: top rows training samples (augmented), bottom rows validation samples");
            return 0;
        });
        return command;
    }

    /// <summary>Four rows of training samples as the model sees them in epoch 1, then two rows of validation samples.</summary>
    public static void Write(string path, DataLoader train, DataLoader valid, int columns = 12)
    {
        var items = new List<(float[], int, int, int, string)>();
        Take(train, 1, 4 * columns, "", items);
        Take(valid, 0, 2 * columns, "valid ", items);
        ImageGrid.Write(path, items, columns);
    }

    static void Take(DataLoader loader, int epoch, int count, string prefix, List<(float[], int, int, int, string)> items)
    {
        int taken = 0;
        foreach (var batch in loader.Epoch(epoch))
        {
            int channels = batch.Images[1], height = batch.Images[2], width = batch.Images[3], size = channels * height * width;
            for (int n = 0; n < batch.Count && taken < count; n++, taken++)
            {
                string label = batch.SoftTargets is { } soft
                    ? $"{prefix}{batch.Labels[n]} mix {soft.Span[n * loader.ClassCount + batch.Labels[n]]:F2}"
                    : $"{prefix}{batch.Labels[n]}";
                items.Add((batch.Images.Span.Slice(n * size, size).ToArray(), channels, height, width, label));
            }
            if (taken >= count) break;
        }
    }
}

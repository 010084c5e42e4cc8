using System.CommandLine;
using Ongko.Cli.Synth;
using Ongko.Runs;

namespace Ongko.Cli.Commands;

/// <summary>
/// <c>ongko demo</c>: the whole workflow with no download — synthetic digits, a short training run,
/// prediction on held-out synthetic images with metrics — using the built-in configs/demo.yaml.
/// </summary>
public static class DemoCommand
{
    public static Command Create()
    {
        var folder = new Option<string>("--dir") { Description = "working folder for data and results", DefaultValueFactory = _ => "demo" };
        var count = new Option<int>("--count") { Description = "synthetic training images", DefaultValueFactory = _ => 6000 };
        var epochs = new Option<int?>("--epochs") { Description = "override the demo's epochs" };
        var command = new Command("demo", "Synthesize digits, train on them and predict held-out ones (about a minute, no download)") { folder, count, epochs };
        command.SetGuardedAction(parse =>
        {
            string root = parse.GetValue(folder)!;
            int images = parse.GetValue(count);
            if (images < 100) throw new UsageException("--count must be at least 100");
            var config = DefaultConfigs.Load("demo.yaml");
            config.DataDir = Path.Combine(root, "data");
            config.OutputDir = Path.Combine(root, "run");
            if (parse.GetValue(epochs) is { } e) config.Epochs = e >= 1 ? e : throw new UsageException("--epochs must be at least 1");

            Console.WriteLine($"1/3  Drawing {images:#,0} synthetic training digits and {images / 6:#,0} held-out ones (ongko synth)...");
            var train = SyntheticDigitsWriter.Write(config.DataDir, images, seed: 1);
            var held = SyntheticDigitsWriter.Write(Path.Combine(root, "held-out"), images / 6, seed: 2);
            Console.WriteLine($"     {train.ImageFolder} and {held.ImageFolder}");

            Console.WriteLine($"2/3  Training (ongko train --config configs/demo.yaml --data-dir {config.DataDir} --output-dir {config.OutputDir})...");
            int trained = TrainCommand.Run(config, null, TrainingConsole.ForStandardOutput());
            if (trained != 0) return trained;

            string checkpoint = Path.Combine(config.OutputDir, TrainingRun.BestCheckpointName);
            string predictions = Path.Combine(root, "predict");
            Console.WriteLine($"3/3  Predicting held-out digits (ongko predict {held.ImageFolder} --checkpoint {checkpoint} --gt {held.CsvPath} -o {predictions})...");
            int predicted = PredictCommand.Run(held.ImageFolder, checkpoint, held.CsvPath, predictions, 256, Console.Out);
            Console.WriteLine();
            Console.WriteLine($"Pictures: {Path.Combine(config.OutputDir, "dataset.png")}, {Path.Combine(config.OutputDir, "metrics.png")}, " +
                              $"{Path.Combine(predictions, "confusion_matrix.png")}");
            Console.WriteLine($"TensorBoard: tensorboard --logdir {Path.Combine(config.OutputDir, "tensorboard")}");
            return predicted;
        });
        return command;
    }
}

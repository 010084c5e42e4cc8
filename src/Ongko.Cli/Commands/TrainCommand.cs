using System.CommandLine;
using Ongko.Kernels;
using Ongko.Runs;
using Ongko.Serialization;
using Ongko.Training;

namespace Ongko.Cli.Commands;

/// <summary><c>ongko train --config FILE</c> with overrides: the reference's training workflow.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config", "-c") { Description = "YAML config (the reference's keys work)", Required = true };
        var dataDir = new Option<string?>("--data-dir") { Description = "override data_dir (NumtaDB layout: training-a/, training-a.csv, ...; with sources: the folder their relative paths start from)" };
        var outputDir = new Option<string?>("--output-dir", "-o") { Description = "override output_dir" };
        var epochs = new Option<int?>("--epochs") { Description = "override epochs" };
        var lr = new Option<float?>("--lr") { Description = "override lr" };
        var seed = new Option<ulong?>("--seed") { Description = "override seed (initial weights, shuffling, augmentation; the split too unless split_seed is set)" };
        var resume = new Option<string?>("--resume") { Description = "continue from a checkpoint written by ongko train (e.g. OUT/last.safetensors)" };
        var threads = new Option<int?>("--threads") { Description = "worker threads (default: all cores)" };
        var debug = new Option<bool>("--debug") { Description = "train on a small subset (debug: true)" };
        var initFrom = new Option<string?>("--init-from") { Description = "fine-tune: load every tensor of this checkpoint whose name and shape match (init_from)" };
        var freeze = new Option<int?>("--freeze") { Description = "fine-tune: keep the first N declared layers frozen (freeze)" };
        var freezeEpochs = new Option<int?>("--freeze-epochs") { Description = "fine-tune: epochs the --freeze layers stay frozen, then all train (freeze_epochs; default: the whole run)" };
        var exclude = new Option<string[]>("--exclude") { Description = "leave the images this file names out of training (audit.csv or one name per line; repeatable; replaces exclude:)" };
        var distillFrom = new Option<string[]>("--distill-from") { Description = "distil: these checkpoints' averaged probabilities on each training batch join its targets (distill_from; replaces it)", AllowMultipleArgumentsPerToken = true };
        var command = new Command("train", "Train a model from a YAML config") { config, dataDir, outputDir, epochs, lr, seed, resume, threads, debug, initFrom, freeze, freezeEpochs, exclude, distillFrom };
        command.SetGuardedAction(parse =>
        {
            var trainConfig = ConfigFile.Load(parse.GetValue(config)!);
            if (parse.GetValue(dataDir) is { } d) trainConfig.DataDir = d;
            if (parse.GetValue(outputDir) is { } o) trainConfig.OutputDir = o;
            if (parse.GetValue(epochs) is { } e) trainConfig.Epochs = e >= 1 ? e : throw new UsageException("--epochs must be at least 1");
            if (parse.GetValue(lr) is { } l) trainConfig.LearningRate = float.IsFinite(l) && l > 0 ? l : throw new UsageException($"--lr must be a positive finite number, got {l}");
            if (parse.GetValue(seed) is { } s) trainConfig.Seed = s;
            if (parse.GetValue(debug)) trainConfig.Debug = true;
            if (parse.GetValue(initFrom) is { } i) trainConfig.InitFrom = i;
            if (parse.GetValue(exclude) is { Length: > 0 } x) trainConfig.Exclude = [.. x];
            if (parse.GetValue(distillFrom) is { Length: > 0 } teachers) trainConfig.DistillFrom = [.. teachers];
            if (parse.GetValue(freeze) is { } f) trainConfig.FreezeLayers = f >= 0 ? f : throw new UsageException("--freeze must be at least 0");
            if (parse.GetValue(freezeEpochs) is { } fe) trainConfig.FreezeEpochs = fe >= 1 ? fe : throw new UsageException("--freeze-epochs must be at least 1");
            if (parse.GetValue(threads) is { } t) Threads.Count = t >= 1 ? t : throw new UsageException("--threads must be at least 1");
            string? resumeFrom = parse.GetValue(resume) ?? (trainConfig.Resume ? trainConfig.CheckpointPath
                ?? throw new UsageException($"{trainConfig.SourcePath}: resume: true needs checkpoint_path") : null);
            float? lrOverride = resumeFrom is not null ? parse.GetValue(lr) : null;
            return Run(trainConfig, resumeFrom, TrainingConsole.ForStandardOutput(), lrOverride);
        });
        return command;
    }

    /// <param name="learningRate">with <paramref name="resumeFrom"/>: --lr, which replaces the checkpoint's learning rate</param>
    public static int Run(TrainConfig config, string? resumeFrom, TrainingConsole console, float? learningRate = null) =>
        OutputFolder.RemovedIfRejected(config.OutputDir, () => RunInto(config, resumeFrom, console, learningRate));

    static int RunInto(TrainConfig config, string? resumeFrom, TrainingConsole console, float? learningRate)
    {
        foreach (var key in config.IgnoredKeys)
            console.Message($"note: '{key}' in {config.SourcePath} is a reference setting Ongko does not use; ignored");
        var trainer = new TrainingRun(config, console);
        console.OutputDir = config.OutputDir;
        console.DataDescription = TrainingRun.DescribeData(config);
        TrainingRun.EnsureWritable(config.OutputDir);
        trainer.Prepare();
        string preview = Path.Combine(config.OutputDir, "dataset.png");
        PreviewCommand.Write(preview, trainer.TrainLoader!, trainer.ValidLoader!);
        console.Message($"Sample grid: {preview}");

        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (cancel.IsCancellationRequested) return;  // a second Ctrl-C ends the process at once
            e.Cancel = true;
            cancel.Cancel();
            console.Message("Stopping after the current step (Ctrl-C again to quit at once)...");
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            var outcome = trainer.Run(resumeFrom, cancel.Token, learningRate);
            if (outcome.SkippedImages > 0)
            {
                var reasons = trainer.TrainLoader!.SkippedMessages.Concat(trainer.ValidLoader!.SkippedMessages).Take(5);
                console.Message($"{outcome.SkippedImages} image(s) could not be read and were skipped (on_bad_image: skip): {string.Join("; ", reasons)}" +
                                (outcome.SkippedImages > 5 ? "; ..." : ""));
            }
            if (outcome.History.Count > 0)
            {
                var best = outcome.History.MaxBy(h => h.ValidMacroF1)!;
                console.Message($"Best validation macro-F1 {best.ValidMacroF1:F4} (accuracy {best.ValidAccuracy:P2}) at epoch {best.Epoch}. " +
                                $"Wrote {Path.Combine(outcome.OutputDir, TrainingRun.BestCheckpointName)}, logs.csv, metrics.png, report.html, tensorboard/");
            }
            return outcome.Interrupted ? 130 : 0;
        }
        finally { Console.CancelKeyPress -= onCancel; }
    }
}

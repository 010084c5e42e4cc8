using Ongko.Cli.Synth;
using Ongko.Runs;
using Ongko.Serialization;
using Ongko.Tests.Data;
using Ongko.Training;

namespace Ongko.Tests.Training;

public class TrainerTests
{
    /// <summary>A small config over a synthetic NumtaDB-layout folder (training-s).</summary>
    internal static TrainConfig SmallConfig(string dataDir, string outputDir, int epochs, string extra = "") => ConfigFile.Parse($"""
        epochs: {epochs}
        data_dir: '{dataDir}'
        output_dir: '{outputDir}'
        train_folders: [training-s]
        train_batch: 16
        valid_batch: 32
        lr: 0.02
        momentum: 0.9
        seed: 5
        model:
          - [Conv2D, [1, 4, 3, 1, 1]]
          - [ReLU, []]
          - [MaxPool2D, [2, 2]]
          - [Flatten, []]
          - [Linear, [10]]
          - [Softmax, []]
        augment:
          img_shape: [16, 16]
          use_bbox: true
          reverse: auto
          aug: true
          mixup: 0.5
        lr_scheduler:
          factor: 0.5
          patience: 0
        {extra}
        """, "test.yaml");

    static byte[] Weights(string checkpoint) =>
        Checkpoint.Read(checkpoint).Tensors.OrderBy(t => t.Key).SelectMany(t => System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.Value.Span).ToArray()).ToArray();

    [Fact]
    public void TwoEpochsStraightEqualOnePlusResumePlusOne()
    {
        using var dir = new TempDirectory();
        SyntheticDigitsWriter.Write(dir.File("data"), 160, seed: 3, size: 32);

        var straight = new TrainingRun(SmallConfig(dir.File("data"), dir.File("a"), 2)).Run();
        new TrainingRun(SmallConfig(dir.File("data"), dir.File("b"), 1)).Run();
        var resumed = new TrainingRun(SmallConfig(dir.File("data"), dir.File("b"), 2)).Run(Path.Combine(dir.File("b"), TrainingRun.LastCheckpointName));

        Assert.Equal(Weights(Path.Combine(dir.File("a"), TrainingRun.LastCheckpointName)), Weights(Path.Combine(dir.File("b"), TrainingRun.LastCheckpointName)));
        Assert.Equal(straight.History.Select(h => h.ValidLoss), resumed.History.Select(h => h.ValidLoss));
        Assert.Equal(straight.History.Select(h => h.LearningRate), resumed.History.Select(h => h.LearningRate));
    }

    const string ModernModel = """
        optimizer: adamw
        weight_decay: 0.01
        label_smoothing: 0.1
        lr_schedule: {name: onecycle, max_lr: 0.01, pct_start: 0.3}
        """;

    static TrainConfig ModernConfig(string dataDir, string outputDir, int epochs)
    {
        var config = SmallConfig(dataDir, outputDir, epochs, ModernModel);
        config.Model = ConfigFile.Parse("""
            model:
              - [Conv2D, [1, 4, 3, 1, 1, false]]
              - [BatchNorm2D, [4]]
              - [ReLU, []]
              - [Dropout2D, [0.2]]
              - [MaxPool2D, [2, 2]]
              - [Flatten, []]
              - [Dropout, [0.3]]
              - [Linear, [16]]
              - [BatchNorm1D, [16]]
              - [ReLU, []]
              - [Linear, [10]]
              - [Softmax, []]
            augment:
              img_shape: [16, 16]
            """, "modern.yaml").Model;
        return config;
    }

    /// <summary>BatchNorm statistics, Dropout streams, AdamW moments and the one-cycle position all survive a resume.</summary>
    [Fact]
    public void ResumeIsExactWithBatchNormDropoutAdamWAndOneCycle()
    {
        using var dir = new TempDirectory();
        SyntheticDigitsWriter.Write(dir.File("data"), 160, seed: 7, size: 32);
        var straight = new TrainingRun(ModernConfig(dir.File("data"), dir.File("a"), 3)).Run();

        using var cancel = new CancellationTokenSource();
        var interrupted = new TrainingRun(ModernConfig(dir.File("data"), dir.File("b"), 3), new StopAfter(13, cancel)).Run(cancel: cancel.Token);
        Assert.True(interrupted.Interrupted);
        var resumed = new TrainingRun(ModernConfig(dir.File("data"), dir.File("b"), 3)).Run(Path.Combine(dir.File("b"), TrainingRun.LastCheckpointName));

        Assert.Equal(Weights(Path.Combine(dir.File("a"), TrainingRun.LastCheckpointName)), Weights(Path.Combine(dir.File("b"), TrainingRun.LastCheckpointName)));
        Assert.Equal(straight.History.Select(h => h.LearningRate), resumed.History.Select(h => h.LearningRate));
        var names = Checkpoint.Read(Path.Combine(dir.File("b"), TrainingRun.LastCheckpointName)).Tensors.Keys.ToList();
        Assert.Contains("layers.1.running_mean", names);
        Assert.Contains("layers.8.running_var", names);
        Assert.Contains("optimizer.exp_avg_sq.layers.0.weight", names);
        Assert.True(straight.History[^1].ValidAccuracy > 0.3, $"valid accuracy {straight.History[^1].ValidAccuracy}: the modern recipe should learn something in 3 epochs");
    }

    internal sealed class StopAfter(int steps, CancellationTokenSource cancel) : ITrainingObserver
    {
        int seen;
        public void StepCompleted(int epoch, int step, int stepCount, double runningLoss, double runningAccuracy, double imagesPerSecond, TimeSpan elapsed)
        {
            if (++seen == steps) cancel.Cancel();
        }
    }

    [Fact]
    public void InterruptedMidEpochResumesToTheSameWeights()
    {
        using var dir = new TempDirectory();
        SyntheticDigitsWriter.Write(dir.File("data"), 160, seed: 4, size: 32);
        var straight = new TrainingRun(SmallConfig(dir.File("data"), dir.File("a"), 2)).Run();

        using var cancel = new CancellationTokenSource();
        var trainer = new TrainingRun(SmallConfig(dir.File("data"), dir.File("b"), 2), new StopAfter(11, cancel));
        var interrupted = trainer.Run(cancel: cancel.Token);
        Assert.True(interrupted.Interrupted);
        var state = TrainingCheckpoint.ReadState(Checkpoint.Read(Path.Combine(dir.File("b"), TrainingRun.LastCheckpointName)).Metadata, "last");
        int stepsPerEpoch = trainer.TrainLoader!.BatchCount;
        Assert.True(stepsPerEpoch < 11, $"{stepsPerEpoch} steps per epoch: the test wants the stop inside epoch 2");
        Assert.Equal(1, state.CompletedEpochs);
        Assert.Equal(11 - stepsPerEpoch, state.StepsIntoEpoch);

        var resumed = new TrainingRun(SmallConfig(dir.File("data"), dir.File("b"), 2)).Run(Path.Combine(dir.File("b"), TrainingRun.LastCheckpointName));
        Assert.False(resumed.Interrupted);
        Assert.Equal(Weights(Path.Combine(dir.File("a"), TrainingRun.LastCheckpointName)), Weights(Path.Combine(dir.File("b"), TrainingRun.LastCheckpointName)));
        Assert.Equal(straight.History[^1].TrainLoss, resumed.History[^1].TrainLoss, 12);
    }

    [Fact]
    public void WritesLogsTensorBoardConfigAndCheckpoints()
    {
        using var dir = new TempDirectory();
        SyntheticDigitsWriter.Write(dir.File("data"), 100, seed: 5, size: 32);
        var outcome = new TrainingRun(SmallConfig(dir.File("data"), dir.File("out"), 3)).Run();
        string output = dir.File("out");

        var log = File.ReadAllLines(Path.Combine(output, TrainingRun.LogName));
        Assert.Equal(EpochResult.CsvHeader, log[0]);
        Assert.Equal(4, log.Length);
        var events = Directory.GetFiles(Path.Combine(output, "tensorboard"), "events.out.tfevents.*").Single();
        var scalars = TensorBoardWriter.ReadScalars(events);
        var validF1 = scalars.Where(s => s.Tag == "macro_f1/valid").ToList();
        Assert.Equal([1L, 2L, 3L], validF1.Select(s => s.Step));
        Assert.Equal(outcome.History.Select(h => (float)h.ValidMacroF1), validF1.Select(s => s.Value));

        var reread = ConfigFile.Parse(File.ReadAllText(Path.Combine(output, "config.yaml")), "config.yaml");
        Assert.Equal(3, reread.Epochs);
        Assert.Equal(["training-s"], reread.TrainFolders);
        Assert.True(File.Exists(Path.Combine(output, TrainingRun.BestCheckpointName)));
        var best = outcome.History.MaxBy(h => h.ValidMacroF1)!;
        var bestState = TrainingCheckpoint.ReadState(Checkpoint.Read(Path.Combine(output, TrainingRun.BestCheckpointName)).Metadata, "best");
        Assert.Equal(best.Epoch, bestState.CompletedEpochs);
    }

    [Fact]
    public void SchedulerLowersTheLearningRateWhenValidationStalls()
    {
        using var dir = new TempDirectory();
        SyntheticDigitsWriter.Write(dir.File("data"), 100, seed: 6, size: 32);
        // A near-zero rate cannot improve validation F1: epoch 1 sets the best, epoch 2 ties it (a bad epoch,
        // more than patience 0), so epoch 3 runs at half the rate.
        var config = SmallConfig(dir.File("data"), dir.File("out"), 3);
        config.LearningRate = 1e-9f;
        var outcome = new TrainingRun(config).Run();
        Assert.Equal([1e-9f, 1e-9f, 0.5e-9f], outcome.History.Select(h => h.LearningRate));
    }

    [Fact]
    public void UnwritableOutputFolderIsAClearError()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("file"), "");
        var ex = Assert.Throws<IOException>(() => TrainingRun.EnsureWritable(Path.Combine(dir.File("file"), "sub")));
        Assert.Contains("cannot be written", ex.Message);
    }

    /// <summary>A couple of epochs on thousands of real images must learn; a broken trainer stays near 10%.</summary>
    [RealDataFact("numtadb28")]
    public void LearnsRealDigits()
    {
        using var dir = new TempDirectory();
        var config = ConfigFile.Parse($"""
            epochs: 2
            data_dir: '{DataTestSupport.SharedData("numtadb28")}'
            output_dir: '{dir.File("out")}'
            train_folders: [training-a]
            train_batch: 64
            lr: 0.01
            momentum: 0.9
            model:
              - [Conv2D, [1, 8, 5, 1, 0]]
              - [ReLU, []]
              - [MaxPool2D, [2, 2]]
              - [Conv2D, [8, 16, 5, 1, 0]]
              - [ReLU, []]
              - [MaxPool2D, [2, 2]]
              - [Flatten, []]
              - [Linear, [64]]
              - [ReLU, []]
              - [Linear, [10]]
              - [Softmax, []]
            augment:
              img_shape: [28, 28]
            """, "real.yaml");
        var outcome = new TrainingRun(config).Run();
        Assert.True(outcome.History[^1].ValidAccuracy > 0.85, $"validation accuracy {outcome.History[^1].ValidAccuracy:P2} after 2 epochs on training-a");
        Assert.True(outcome.History[^1].ValidCountCheck());
    }
}

static class EpochResultChecks
{
    /// <summary>Loss must be a real number and the macro-F1 within [0, 1].</summary>
    public static bool ValidCountCheck(this EpochResult r) => double.IsFinite(r.ValidLoss) && r.ValidMacroF1 is >= 0 and <= 1;
}

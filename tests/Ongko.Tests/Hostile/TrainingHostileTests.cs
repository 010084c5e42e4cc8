using Ongko.Cli.Synth;
using Ongko.Data;
using Ongko.Models;
using Ongko.Serialization;
using Ongko.Tensors;
using Ongko.Tests.Cli;
using Ongko.Tests.Training;
using Ongko.Training;

namespace Ongko.Tests.Hostile;

/// <summary>Issue classes 2 and 5 for training: divergence never overwrites finite weights, learning rates, what a rejected run leaves.</summary>
public class TrainingHostileTests
{
    [Theory]
    [InlineData("Infinity"), InlineData("inf"), InlineData("NaN"), InlineData("-0.1"), InlineData("0")]
    public void ALearningRateThatCannotTrainIsRefused(string lr)
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("c.yaml"), "model:\n  - [Flatten]\n  - [Linear, [10]]\n");
        var (code, _, error) = CliTests.Ongko("train", "--config", dir.File("c.yaml"), "--lr", lr, "--output-dir", dir.File("run"));
        Assert.Equal(2, code);
        Assert.Contains("--lr", error);
        Assert.False(Directory.Exists(dir.File("run")));
    }

    const string BarsModel = "model:\n  - [Flatten, []]\n  - [Linear, [32]]\n  - [ReLU, []]\n  - [Linear, [10]]\n  - [Softmax, []]\n";

    static (ArrayBatchSource Train, float[] Images, int[] Labels) Bars(int count = 200)
    {
        var (pixels, labels) = FitTests.Bars(count, 1);
        float[] images = pixels.Select(p => p / 255f).ToArray();
        int[] classes = labels.Select(l => (int)l).ToArray();
        return (new ArrayBatchSource(images, classes, [1, 20, 20], batchSize: 20, shuffle: true, seed: 3), images, classes);
    }

    static TrainConfig Options(string lr, int epochs = 2) =>
        ConfigFile.Parse($"epochs: {epochs}\nlr: {lr}\naugment: {{channels: 1, img_shape: [20, 20]}}\n" + BarsModel, "bars.yaml");

    sealed class Recorder : ITrainingObserver
    {
        public readonly List<string> Messages = [];
        public readonly List<TrainingSnapshot> Snapshots = [];
        public void Message(string text) => Messages.Add(text);
        public void StateReached(TrainingSnapshot snapshot) => Snapshots.Add(snapshot);
    }

    [Fact]
    public void ANonFiniteLossStopsTrainingBeforeAnyStateIsReported()
    {
        var (train, _, _) = Bars();
        var options = Options("1e12");
        var model = LayerFactory.Create(options.Model, "bars").Build([1, 20, 20], new Rng(1));
        var recorder = new Recorder();
        var error = Assert.Throws<TrainingDivergedException>(() => Trainer.Fit(model, train, null, options, [recorder]));
        Assert.Contains("training diverged", error.Message);
        Assert.Contains("lower learning rate", error.Message);
        Assert.Empty(recorder.Snapshots);
    }

    [Fact]
    public void AnEpochWithANonFiniteValidationLossIsNeitherBestNorSaved()
    {
        var (train, images, labels) = Bars();
        float[] poisoned = images[..(40 * 400)];
        poisoned[123] = float.NaN;
        var validation = new ArrayBatchSource(poisoned, labels[..40], [1, 20, 20], batchSize: 20);
        var options = Options("0.05");
        var model = LayerFactory.Create(options.Model, "bars").Build([1, 20, 20], new Rng(1));
        var recorder = new Recorder();
        var error = Assert.Throws<TrainingDivergedException>(() => Trainer.Fit(model, train, validation, options, [recorder]));
        Assert.Contains("the validation loss of epoch 1 is NaN", error.Message);
        Assert.Empty(recorder.Snapshots);
    }

    [Fact]
    public void AnExplodingLossIsWarnedAboutOnce()
    {
        var (train, _, _) = Bars();
        var options = Options("1e-12", epochs: 3);
        var model = LayerFactory.Create(options.Model, "bars").Build([1, 20, 20], new Rng(1));
        foreach (var parameter in model.Parameters) System.Numerics.Tensors.TensorPrimitives.Multiply(parameter.Value.Span, 300f, parameter.Value.Span);
        var recorder = new Recorder();
        var result = Trainer.Fit(model, train, null, options, [recorder]);
        Assert.True(result.History[0].TrainLoss > 100 * Math.Log(10), $"the test needs a huge loss, got {result.History[0].TrainLoss}");
        var warning = Assert.Single(recorder.Messages, m => m.StartsWith("warning: the training loss"));
        Assert.Contains("learning rate 1E-12 is probably too high", warning);
    }

    [Fact]
    public void DivergingAfterResumeKeepsTheFiniteCheckpointsAndExitsWith2()
    {
        using var dir = new TempDirectory();
        var (pixels, labels) = FitTests.Bars(200, 1);
        FitTests.WriteIdx(dir.File("images.gz"), pixels, 200, 20, 20);
        FitTests.WriteIdx(dir.File("labels.gz"), labels, 200);
        File.WriteAllText(dir.File("c.yaml"), $"epochs: 1\nlr: 0.05\ntrain_batch: 20\ndata_dir: '{dir.Path}'\n" +
            "sources:\n  - {type: idx, images: images.gz, labels: labels.gz}\naugment: {img_shape: [20, 20], reverse: false}\n" + BarsModel);
        var (code, output, error) = CliTests.Ongko("train", "--config", dir.File("c.yaml"), "-o", dir.File("run"));
        Assert.True(code == 0, error + output);
        byte[] best = File.ReadAllBytes(dir.File("run/best.safetensors")), last = File.ReadAllBytes(dir.File("run/last.safetensors"));

        (code, output, error) = CliTests.Ongko("train", "--config", dir.File("c.yaml"), "-o", dir.File("run"), "--epochs", "3",
                                               "--resume", dir.File("run/last.safetensors"), "--lr", "1e12");
        Assert.Equal(2, code);
        Assert.Contains("--lr 1E+12 replaces the checkpoint's learning rate 0.05", output);
        Assert.Contains("training diverged", error);
        Assert.DoesNotContain("internal error", error);
        Assert.Equal(best, File.ReadAllBytes(dir.File("run/best.safetensors")));
        Assert.Equal(last, File.ReadAllBytes(dir.File("run/last.safetensors")));

        (code, _, error) = CliTests.Ongko("train", "--config", dir.File("c.yaml"), "-o", dir.File("run"), "--resume", dir.File("run/last.safetensors"));
        Assert.Equal(2, code);
        Assert.Contains("already completed 1 epoch(s) and epochs is 1", error);
    }

    [Theory]
    [InlineData("num_class: 1000000\n", "num_class is 1000000 but the model puts out [10] per image")]
    [InlineData("num_class: 2\n", "num_class is 2 but the model puts out [10] per image")]
    [InlineData("valid_fraction: 1\n", "all 200 images of")]
    public void SettingsThatCannotTrainAreRefusedBeforeTraining(string line, string fragment)
    {
        using var dir = new TempDirectory();
        var (pixels, labels) = FitTests.Bars(200, 1);
        FitTests.WriteIdx(dir.File("images.gz"), pixels, 200, 20, 20);
        FitTests.WriteIdx(dir.File("labels.gz"), labels.Select(l => (byte)(l % 2)).ToArray(), 200);
        var config = ConfigFile.Parse(line + $"data_dir: '{dir.Path}'\nsources:\n  - {{type: idx, images: images.gz, labels: labels.gz}}\n" +
                                      "augment: {img_shape: [20, 20], channels: 1}\n" + BarsModel, "c.yaml");
        var error = Assert.ThrowsAny<OngkoInputException>(() => new Ongko.Runs.TrainingRun(config).Prepare());
        Assert.Contains(fragment, error.Message);
    }

    [Fact]
    public void AContourCutoutCountThatWouldNeverFinishIsRefused()
    {
        var error = Assert.Throws<ConfigException>(() => ConfigFile.Parse(BarsModel + "augment:\n  contour_cutout_number: 2147483647\n", "c.yaml"));
        Assert.Contains("'augment.contour_cutout_number' must be <= 1000", error.Message);
    }

    [Fact]
    public void ARejectedRunLeavesNoOutputFolderAndSkippedImagesAreNamed()
    {
        using var dir = new TempDirectory();
        SyntheticDigitsWriter.Write(dir.File("data"), 60, seed: 1, size: 20);
        File.WriteAllText(dir.File("broken.safetensors"), "not a checkpoint");
        File.WriteAllText(dir.File("c.yaml"), $"epochs: 1\ntrain_folders: [training-s]\naugment: {{img_shape: [16, 16]}}\n" + BarsModel);

        var (code, _, error) = CliTests.Ongko("train", "--config", dir.File("c.yaml"), "--data-dir", dir.File("data"), "-o", dir.File("rejected"),
                                              "--resume", dir.File("broken.safetensors"));
        Assert.Equal(2, code);
        Assert.Contains("not a safetensors checkpoint", error);
        Assert.False(Directory.Exists(dir.File("rejected")), "the rejected run left its output folder");

        string victim = Directory.GetFiles(dir.File("data/training-s"), "*.png").Order().First();
        File.WriteAllText(victim, "not an image");
        string output;
        (code, output, error) = CliTests.Ongko("train", "--config", dir.File("c.yaml"), "--data-dir", dir.File("data"), "-o", dir.File("run"));
        Assert.True(code == 0, error + output);
        Assert.Contains("1 image(s) could not be read and were skipped (on_bad_image: skip): ", output);
        Assert.Contains(Path.GetFileName(victim), output);
    }
}

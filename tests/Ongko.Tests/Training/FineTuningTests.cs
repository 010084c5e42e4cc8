using Ongko.Data;
using Ongko.Layers;
using Ongko.Models;
using Ongko.Serialization;
using Ongko.Tensors;
using Ongko.Tests.Cli;
using Ongko.Training;

namespace Ongko.Tests.Training;

/// <summary>Fine-tuning: init_from (name and shape matching, 1 &lt;-&gt; 3 channel first convolution), freezing, and their errors.</summary>
public class FineTuningTests
{
    static Sequential Model(string yaml, int channels, int size = 12, ulong seed = 1) =>
        LayerFactory.Create(ConfigFile.Parse(yaml, "model.yaml").Model, "model.yaml").Build([channels, size, size], new Rng(seed));

    static string ConvModel(int channels, int classes) => $"""
        model:
          - [Conv2D, [{channels}, 4, 3, 1, 1]]
          - [BatchNorm2D, [4]]
          - [ReLU, []]
          - [MaxPool2D, [2, 2]]
          - [Flatten, []]
          - [Linear, [{classes}]]
          - [Softmax, []]
        """;

    /// <summary>BatchNorm's running statistics and affine parameters set to something other than the fresh 0/1, so a transfer shows.</summary>
    static void Perturb(Sequential model, ulong seed)
    {
        var rng = new Rng(seed);
        foreach (var layer in model.Layers.OfType<BatchNorm>())
            foreach (var tensor in new[] { layer.RunningMean, layer.RunningVariance, layer.Weight.Value, layer.Bias.Value })
                for (int i = 0; i < tensor.Length; i++) tensor.Span[i] = 0.5f + (float)rng.NextDouble();
    }

    static Dictionary<string, Tensor> TensorsOf(Sequential model) =>
        model.NamedParameters.Select(p => (p.Name, p.Parameter.Value)).Concat(model.NamedBuffers).ToDictionary(p => p.Item1, p => p.Item2.Clone());

    [Fact]
    public void LoadsTensorsWhoseNameAndShapeMatchAndReportsTheRest()
    {
        var source = Model(ConvModel(1, 10), 1, seed: 1);
        Perturb(source, 5);
        var tensors = TensorsOf(source);
        tensors["layers.9.weight"] = new Tensor(3, 3);                // a layer the target does not have
        tensors["optimizer.velocity.layers.0.weight"] = new Tensor(4, 1, 3, 3);
        var target = Model(ConvModel(1, 5), 1, seed: 2);              // another head: 5 classes
        var freshHead = target.NamedParameters.Single(p => p.Name == "layers.5.weight").Parameter.Value.Clone();

        var report = WeightTransfer.Apply(target, tensors);

        string[] loaded = ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "layers.1.running_mean", "layers.1.running_var",
                           "layers.1.num_batches_tracked"];
        Assert.Equal(loaded.Order(), report.Loaded.Select(e => e.Name).Order());
        Assert.All(report.Loaded, e => Assert.Equal(TransferOutcome.Loaded, e.Outcome));
        var after = TensorsOf(target);
        foreach (string name in loaded) Assert.Equal(tensors[name].Span.ToArray(), after[name].Span.ToArray());
        Assert.Equal(["layers.5.bias", "layers.5.weight", "layers.9.weight"], report.Skipped.Select(e => e.Name).Order());
        var head = report.Skipped.Single(e => e.Name == "layers.5.weight");
        Assert.Equal(TransferOutcome.SkippedShape, head.Outcome);
        Assert.Contains("shape [10, 144] in the checkpoint vs [5, 144] in the model", head.ToString());
        Assert.Contains("not in the model", report.Skipped.Single(e => e.Name == "layers.9.weight").ToString());
        Assert.Equal(["layers.5.bias", "layers.5.weight"], report.Reinitialised.Select(e => e.Name).Order());
        Assert.Equal(freshHead.Span.ToArray(), after["layers.5.weight"].Span.ToArray());   // left as initialised
        Assert.Equal(1, report.OptimizerTensors);
        Assert.Contains("7 of 9 model tensor(s) loaded, 3 checkpoint tensor(s) skipped, 2 re-initialised", report.Lines().Last());
    }

    /// <summary>A grey image replicated to R, G, B gives the grey model's output in the RGB model made from it, and back.</summary>
    [Fact]
    public void FirstConvolutionIsConvertedBetweenOneAndThreeChannelsKeepingTheOutputOfAGreyImage()
    {
        var grey = Model(ConvModel(1, 10), 1, seed: 3);
        Perturb(grey, 7);
        var rgb = Model(ConvModel(3, 10), 3, seed: 4);
        var report = WeightTransfer.Apply(rgb, TensorsOf(grey));
        var first = report.Entries.Single(e => e.Name == "layers.0.weight");
        Assert.Equal(TransferOutcome.ExpandedToThreeChannels, first.Outcome);
        Assert.Contains("first convolution, 1 -> 3 input channels", first.ToString());
        Assert.Empty(report.Reinitialised);

        var rng = new Rng(9);
        var image = new Tensor(2, 1, 12, 12);
        for (int i = 0; i < image.Length; i++) image.Span[i] = (float)rng.NextDouble();
        var replicated = new Tensor(2, 3, 12, 12);
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 3; c++) image.Span.Slice(n * 144, 144).CopyTo(replicated.Span.Slice((n * 3 + c) * 144, 144));
        float[] expected = grey.Forward(image, training: false).Span.ToArray();
        AssertClose(expected, rgb.Forward(replicated, training: false).Span.ToArray());

        // And back: 3 -> 1 sums the input channels, so the grey copy of the RGB model agrees with it again.
        var greyAgain = Model(ConvModel(1, 10), 1, seed: 5);
        var back = WeightTransfer.Apply(greyAgain, TensorsOf(rgb));
        Assert.Equal(TransferOutcome.SummedToOneChannel, back.Entries.Single(e => e.Name == "layers.0.weight").Outcome);
        AssertClose(expected, greyAgain.Forward(image, training: false).Span.ToArray());

        // An RGB model that never was grey: its grey copy gives its output on the replicated grey image.
        var colour = Model(ConvModel(3, 10), 3, seed: 6);
        Perturb(colour, 8);
        var greyCopy = Model(ConvModel(1, 10), 1, seed: 7);
        WeightTransfer.Apply(greyCopy, TensorsOf(colour));
        AssertClose(colour.Forward(replicated, training: false).Span.ToArray(), greyCopy.Forward(image, training: false).Span.ToArray());
    }

    [Fact]
    public void OnlyTheFirstConvolutionChangesItsChannels()
    {
        const string two = """
            model:
              - [Conv2D, [3, 3, 3, 1, 1]]
              - [Conv2D, [3, 4, 3, 1, 1]]
              - [Flatten, []]
              - [Linear, [10]]
            """;
        const string other = """
            model:
              - [Conv2D, [3, 1, 3, 1, 1]]
              - [Conv2D, [1, 4, 3, 1, 1]]
              - [Flatten, []]
              - [Linear, [10]]
            """;
        var report = WeightTransfer.Apply(Model(other, 3), TensorsOf(Model(two, 3)));
        // The second convolution's [4, 3, 3, 3] kernel does not become [4, 1, 3, 3].
        Assert.Equal(TransferOutcome.SkippedShape, report.Skipped.Single(e => e.Name == "layers.1.weight").Outcome);
        Assert.Contains(report.Reinitialised, e => e.Name == "layers.1.weight");
    }

    static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f + 1e-4f * Math.Abs(expected[i]), $"[{i}] {expected[i]} vs {actual[i]}");
    }

    [Fact]
    public void MissingCorruptOrUnrelatedCheckpointsAreClearErrors()
    {
        using var dir = new TempDirectory();
        var model = Model(ConvModel(1, 10), 1);
        var missing = Assert.Throws<CheckpointException>(() => Checkpoint.InitializeFrom(dir.File("nope.safetensors"), model));
        Assert.Contains("nope.safetensors", missing.Message);
        Assert.Contains("not found", missing.Message);

        File.WriteAllBytes(dir.File("corrupt.safetensors"), [.. Enumerable.Range(0, 64).Select(i => (byte)(i * 37))]);
        var corrupt = Assert.Throws<CheckpointException>(() => Checkpoint.InitializeFrom(dir.File("corrupt.safetensors"), model));
        Assert.Contains("corrupt.safetensors", corrupt.Message);

        var before = TensorsOf(model);
        var unrelated = Model("model:\n  - [Flatten, []]\n  - [Linear, [7]]\n", 1, size: 5);
        Checkpoint.Save(dir.File("unrelated.safetensors"), unrelated);
        var none = Assert.Throws<CheckpointException>(() => Checkpoint.InitializeFrom(dir.File("unrelated.safetensors"), model));
        Assert.Contains("unrelated.safetensors", none.Message);
        Assert.Contains("no tensor matches the model by name and shape", none.Message);
        Assert.All(TensorsOf(model), t => Assert.Equal(before[t.Key].Span.ToArray(), t.Value.Span.ToArray()));

        // A matching tensor holding NaN stops the transfer before anything is copied.
        var poisoned = TensorsOf(Model(ConvModel(1, 10), 1, seed: 9));
        poisoned["layers.5.bias"].Span[0] = float.NaN;
        Assert.Throws<OngkoInputException>(() => WeightTransfer.Apply(model, poisoned));
        Assert.All(TensorsOf(model), t => Assert.Equal(before[t.Key].Span.ToArray(), t.Value.Span.ToArray()));
    }

    /// <summary>Frozen layers keep every weight and running statistic bitwise for freeze_epochs, then train.</summary>
    [Fact]
    public void FrozenLayersStayBitwiseUnchangedForFreezeEpochsThenTrain()
    {
        var (pixels, labels) = FitTests.Bars(200, 1);
        var train = new ArrayBatchSource(pixels.Select(p => p / 255f).ToArray(), labels.Select(l => (int)l).ToArray(), [1, 20, 20], batchSize: 20, shuffle: true, seed: 3);
        var options = ConfigFile.Parse("epochs: 3\nlr: 0.05\nmomentum: 0.9\nweight_decay: 0.01\nfreeze: 4\nfreeze_epochs: 2\n" +
                                       "augment: {channels: 1, img_shape: [20, 20]}\n" + ConvModel(1, 10), "freeze.yaml");
        var model = LayerFactory.Create(options.Model, "freeze.yaml").Build([1, 20, 20], new Rng(1));
        var initial = TensorsOf(model);
        var snapshots = new List<Dictionary<string, Tensor>>();
        var messages = new List<string>();
        var result = Trainer.Fit(model, train, null, options, [new Snapshots(model, snapshots, messages)]);
        Assert.Equal(3, result.History.Count);

        string[] frozen = ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "layers.1.running_mean", "layers.1.running_var", "layers.1.num_batches_tracked"];
        for (int epoch = 0; epoch < 2; epoch++)
        {
            foreach (string name in frozen) Assert.Equal(initial[name].Span.ToArray(), snapshots[epoch][name].Span.ToArray());
            Assert.NotEqual(initial["layers.5.weight"].Span.ToArray(), snapshots[epoch]["layers.5.weight"].Span.ToArray());
        }
        foreach (string name in frozen) Assert.NotEqual(initial[name].Span.ToArray(), snapshots[2][name].Span.ToArray());
        Assert.Contains(messages, m => m.StartsWith("Frozen for epochs 1-2: layers 0-3 (Conv2D, BatchNorm2D, ReLU, MaxPool2D;"));
        Assert.Contains("Epoch 3: all layers train from here on", messages);
        Assert.Equal(0, model.FrozenLayers);

        // Frozen for the whole run (no freeze_epochs): still frozen in the last epoch, and unfrozen once Fit returns.
        options.Epochs = 1;
        options.FreezeEpochs = null;
        var before = TensorsOf(model);
        snapshots.Clear();
        Trainer.Fit(model, train, null, options, [new Snapshots(model, snapshots, messages)]);
        Assert.Equal(before["layers.0.weight"].Span.ToArray(), snapshots[0]["layers.0.weight"].Span.ToArray());
        Assert.Contains(messages, m => m.StartsWith("Frozen for the whole run: layers 0-3"));
        Assert.Equal(0, model.FrozenLayers);
    }

    sealed class Snapshots(Sequential model, List<Dictionary<string, Tensor>> snapshots, List<string> messages) : ITrainingObserver
    {
        public void EpochCompleted(EpochResult result, IReadOnlyList<EpochResult> history) => snapshots.Add(TensorsOf(model));
        public void Message(string text) => messages.Add(text);
    }

    [Fact]
    public void TheFrozenPrefixRunsAsInEvaluationAndTheBackwardPassStopsAfterIt()
    {
        var model = Model(ConvModel(1, 10), 1);
        model.Freeze(4);
        var steps = model.TrainingPlan.Steps;
        Assert.IsType<FrozenStep>(steps[0]);
        // Conv2D + BatchNorm2D + ReLU folded and MaxPool2D in the same pass, as in evaluation (direct loops for one input channel)
        var frozen = Assert.IsType<ConvolutionStep>(((FrozenStep)steps[0]).Step);
        Assert.Equal((4, true), (frozen.LayerCount, frozen.BatchNorm is not null && frozen.MaxPool is not null));
        Assert.Equal(1, steps.Count(s => s is FrozenStep));
        Assert.Equal(2, model.TrainingPlan.FirstTrainedStep);                  // Flatten, then Linear: where the backward pass stops
        Assert.All(steps.Take(1), s => Assert.False(s.HasParameters));
        var rng = new Rng(2);
        var image = new Tensor(3, 1, 12, 12);
        for (int i = 0; i < image.Length; i++) image.Span[i] = (float)rng.NextDouble();
        // The frozen part computes what evaluation computes: the logits in training equal evaluation's (no Dropout here).
        AssertClose(model.ForwardLogits(image, training: false).Span.ToArray(), model.ForwardLogits(image, training: true).Span.ToArray());
        model.Freeze(0);
        Assert.DoesNotContain(model.TrainingPlan.Steps, s => s is FrozenStep);
    }

    [Fact]
    public void FreezingEverythingOrANegativeCountIsRefused()
    {
        var model = Model(ConvModel(1, 10), 1);
        Assert.Contains("nothing would train", Trainer.FreezeProblem(model, 7));
        Assert.Contains("no layer with parameters", Trainer.FreezeProblem(model, 6));
        Assert.Null(Trainer.FreezeProblem(model, 5));
        Assert.Null(Trainer.FreezeProblem(model, 0));
        var error = Assert.Throws<ConfigException>(() => ConfigFile.Parse("freeze: -1\n" + ConvModel(1, 10), "f.yaml"));
        Assert.Contains("freeze", error.Message);
    }

    [Fact]
    public void FineTuningKeysRoundTripThroughTheResolvedConfig()
    {
        var config = ConfigFile.Parse("init_from: 'runs/a/best.safetensors'\nfreeze: 3\nfreeze_epochs: 2\n" + ConvModel(1, 10), "f.yaml");
        var again = ConfigFile.Parse(ConfigFile.ToYaml(config), "again.yaml");
        Assert.Equal(("runs/a/best.safetensors", 3, (int?)2), (again.InitFrom, again.FreezeLayers, again.FreezeEpochs));
        var plain = ConfigFile.Parse(ConfigFile.ToYaml(ConfigFile.Parse(ConvModel(1, 10), "p.yaml")), "p2.yaml");
        Assert.Equal((null, 0, (int?)null), (plain.InitFrom, plain.FreezeLayers, plain.FreezeEpochs));
    }

    /// <summary>`ongko train --init-from` prints what it loaded; a bad checkpoint is one line and exit code 2.</summary>
    [Fact]
    public void OngkoTrainInitialisesFromACheckpointAndFreezes()
    {
        using var dir = new TempDirectory();
        var (pixels, labels) = FitTests.Bars(200, 1);
        FitTests.WriteIdx(dir.File("images.gz"), pixels, 200, 20, 20);
        FitTests.WriteIdx(dir.File("labels.gz"), labels, 200);
        File.WriteAllText(dir.File("a.yaml"), $$"""
            epochs: 2
            lr: 0.05
            train_batch: 25
            data_dir: '{{dir.Path}}'
            sources:
              - {type: idx, images: images.gz, labels: labels.gz}
            augment: {img_shape: [20, 20], reverse: false}
            model:
              - [Conv2D, [1, 4, 3, 1, 1]]
              - [BatchNorm2D, [4]]
              - [ReLU, []]
              - [MaxPool2D, [2, 2]]
              - [Flatten, []]
              - [Linear, [10]]
              - [Softmax, []]
            """);
        var (code, output, error) = CliTests.Ongko("train", "--config", dir.File("a.yaml"), "-o", dir.File("a"));
        Assert.True(code == 0, error + output);

        (code, output, error) = CliTests.Ongko("train", "--config", dir.File("a.yaml"), "-o", dir.File("b"), "--init-from", dir.File("a/best.safetensors"),
                                               "--freeze", "4", "--freeze-epochs", "1", "--epochs", "2");
        Assert.True(code == 0, error + output);
        Assert.Contains("Initialising from", output);
        Assert.Contains("loaded          layers.0.weight [4, 1, 3, 3]", output);
        Assert.Contains("9 of 9 model tensor(s) loaded", output);
        Assert.Contains("Frozen for epoch 1: layers 0-3", output);
        Assert.Contains("Epoch 2: all layers train from here on", output);
        Assert.DoesNotContain("fine-tuning usually wants the same preprocessing", output);
        var written = ConfigFile.Load(dir.File("b/config.yaml"));
        Assert.Equal((4, (int?)1), (written.FreezeLayers, written.FreezeEpochs));

        // Another preprocessing than the checkpoint's is pointed out.
        File.WriteAllText(dir.File("d.yaml"), File.ReadAllText(dir.File("a.yaml")).Replace("reverse: false", "reverse: true"));
        (code, output, error) = CliTests.Ongko("train", "--config", dir.File("d.yaml"), "-o", dir.File("d"), "--init-from", dir.File("a/best.safetensors"), "--epochs", "1");
        Assert.True(code == 0, error + output);
        var note = output.Split('\n').Single(l => l.Contains("was trained on images prepared with"));
        Assert.Contains("prepared with normalize: none, reverse: off,", note);
        Assert.Contains("this run uses normalize: none, reverse: on,", note);

        (code, output, error) = CliTests.Ongko("train", "--config", dir.File("a.yaml"), "-o", dir.File("c"), "--init-from", dir.File("missing.safetensors"));
        Assert.Equal(2, code);
        Assert.Contains("missing.safetensors", error);
        Assert.Single(error.Trim().Split('\n'));
        Assert.False(Directory.Exists(dir.File("c")));
    }
}

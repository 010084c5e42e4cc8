using System.Globalization;
using Ongko.Data;
using Ongko.Models;
using Ongko.Serialization;
using Ongko.Tensors;
using Ongko.Training;

namespace Ongko.Tests.Export;

/// <summary>
/// Models for the export tests: every shipped config and random layer stacks, with random weights and non-trivial
/// BatchNorm statistics, saved as checkpoints and loaded back the way `ongko export` does.
/// </summary>
public static class ExportModels
{
    public static string ConfigsDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Ongko.slnx"))) return Path.Combine(dir.FullName, "configs");
        throw new DirectoryNotFoundException("repository root not found");
    }

    public static string[] ShippedConfigNames() =>
        Directory.GetFiles(ConfigsDir(), "*.yaml").Select(f => Path.GetFileNameWithoutExtension(f)).Order(StringComparer.Ordinal).ToArray();

    public static TheoryData<string> ShippedConfigs() => new(ShippedConfigNames());

    /// <summary>A shipped config's model and preprocessing, with random weights.</summary>
    public static (Sequential Model, AugmentOptions Preprocessing) FromConfig(string name)
    {
        var config = ConfigFile.Load(Path.Combine(ConfigsDir(), name + ".yaml"));
        var model = LayerFactory.Create(config.Model, config.SourcePath).Build(config.SampleShape, new Rng(7));
        Randomize(model, new Rng(11));
        return (model, config.Augment);
    }

    /// <summary>
    /// A random stack: 1 to 3 convolution blocks (kernel 1, 2, 3 or 5, stride 1 to 3, padding up to kernel/2, with or
    /// without bias, BatchNorm2D, ReLU, Dropout2D, max pooling with windows that may overlap or skip), then Flatten,
    /// maybe Dropout, Linear, maybe BatchNorm1D, ReLU, Linear and maybe Softmax. Non-square inputs.
    /// </summary>
    public static Sequential RandomStack(int seed)
    {
        var random = new Random(seed);
        bool Chance(double p) => random.NextDouble() < p;
        var rows = new List<LayerSpec>();
        void Add(string kind, params object[] arguments) =>
            rows.Add(new LayerSpec(kind, arguments.Select(a => Convert.ToString(a, CultureInfo.InvariantCulture)!.ToLowerInvariant()).ToList(), rows.Count + 1, 0));
        int channels = Chance(0.5) ? 1 : 3, height = random.Next(12, 33), width = height + random.Next(-4, 5);
        int[] shape = [channels, height, width];
        for (int block = random.Next(1, 4); block > 0; block--)
        {
            int kernel = new[] { 1, 2, 3, 5 }[random.Next(4)], padding = random.Next(0, kernel / 2 + 1), stride = random.Next(1, 4);
            if (Math.Min(height, width) + 2 * padding < kernel) (kernel, padding) = (1, 0);
            int outChannels = random.Next(2, 17);
            Add("Conv2D", channels, outChannels, kernel, stride, padding, Chance(0.7));
            (channels, height, width) = (outChannels, (height + 2 * padding - kernel) / stride + 1, (width + 2 * padding - kernel) / stride + 1);
            if (Chance(0.5)) Add("BatchNorm2D", channels);
            if (Chance(0.8)) Add("ReLU");
            if (Chance(0.3)) Add("Dropout2D", 0.25);
            int window = random.Next(2, 4);
            if (Chance(0.7) && Math.Min(height, width) >= window)
            {
                int poolStride = random.Next(1, 4);
                Add("MaxPool2D", window, poolStride);
                (height, width) = ((height - window) / poolStride + 1, (width - window) / poolStride + 1);
            }
        }
        Add("Flatten");
        if (Chance(0.5)) Add("Dropout", 0.5);
        int hidden = random.Next(4, 33);
        Add("Linear", hidden, Chance(0.7));
        if (Chance(0.5)) Add("BatchNorm1D", hidden);
        Add("ReLU");
        Add("Linear", random.Next(2, 11));
        if (Chance(0.6)) Add("Softmax");
        var model = LayerFactory.Create(rows, $"random stack {seed}").Build(shape, new Rng((ulong)seed));
        Randomize(model, new Rng((ulong)seed + 1000));
        return model;
    }

    /// <summary>Random biases, BatchNorm scales/shifts and running statistics (the weights keep their He draw).</summary>
    public static void Randomize(Sequential model, Rng rng)
    {
        float Uniform(float low, float high) => low + (high - low) * rng.NextFloat();
        foreach (var (name, parameter) in model.NamedParameters)
        {
            var values = parameter.Value.Span;
            bool batchNorm = model.Layers[int.Parse(name.Split('.')[1], CultureInfo.InvariantCulture)] is Layers.BatchNorm;
            if (batchNorm && name.EndsWith(".weight")) for (int i = 0; i < values.Length; i++) values[i] = Uniform(0.5f, 1.5f);
            else if (name.EndsWith(".bias")) for (int i = 0; i < values.Length; i++) values[i] = Uniform(-0.2f, 0.2f);
        }
        foreach (var (name, value) in model.NamedBuffers)
        {
            var values = value.Span;
            if (name.EndsWith(".running_mean")) for (int i = 0; i < values.Length; i++) values[i] = Uniform(-0.3f, 0.3f);
            else if (name.EndsWith(".running_var")) for (int i = 0; i < values.Length; i++) values[i] = Uniform(0.3f, 2f);
            else if (name.EndsWith(".num_batches_tracked")) values.Fill(37);
        }
    }

    /// <summary>Saves the model as `ongko train` would and loads it back through the public checkpoint API.</summary>
    public static (Sequential Model, Dictionary<string, string> Contract) SaveAndLoad(Sequential model, AugmentOptions preprocessing, string path)
    {
        var state = new TrainingState { Preprocessing = preprocessing, ClassCount = model.OutputShape[^1], LearningRate = 0.01f };
        Checkpoint.Save(path, model, TrainingCheckpoint.ToMetadata(state));
        var content = Checkpoint.Read(path);
        var loaded = Checkpoint.LoadModel(path, content);
        return (loaded, ExportContract.Describe(loaded, content.Metadata, path));
    }

    /// <summary>Random images in [0, 1] of the model's input shape.</summary>
    public static Tensor Images(Sequential model, int batch, ulong seed)
    {
        var rng = new Rng(seed);
        var images = new Tensor([batch, .. model.InputShape]);
        var span = images.Span;
        for (int i = 0; i < span.Length; i++) span[i] = rng.NextFloat();
        return images;
    }

    /// <summary>Ongko's own evaluation-mode output (a copy).</summary>
    public static float[] Evaluate(Sequential model, Tensor images) => model.Forward(images, training: false).Span.ToArray();

    /// <summary>Row-wise softmax of [rows, classes] values.</summary>
    public static float[] Softmax(float[] logits, int classes)
    {
        var result = new float[logits.Length];
        for (int n = 0; n < logits.Length / classes; n++)
            System.Numerics.Tensors.TensorPrimitives.SoftMax(logits.AsSpan(n * classes, classes), result.AsSpan(n * classes, classes));
        return result;
    }

    /// <summary>
    /// Compares an exported model's output with Ongko's: max |Δ| ≤ 1e-4 on probabilities (softmax applied to logits),
    /// logits also within 1e-4 + 1e-4·|x|. Also checks the probabilities are not all saturated at 0 or 1, which would
    /// make the comparison too easy.
    /// </summary>
    public static void AssertSameOutputs(Sequential model, float[] expected, float[] actual, string what)
    {
        int classes = model.OutputShape[^1];
        float[] expectedProbabilities = model.EndsWithSoftmax ? expected : Softmax(expected, classes);
        float[] actualProbabilities = model.EndsWithSoftmax ? actual : Softmax(actual, classes);
        TestData.AssertClose(expectedProbabilities, actualProbabilities, 1e-4, 0, $"{what}: probabilities");
        if (!model.EndsWithSoftmax) TestData.AssertClose(expected, actual, 1e-4, 1e-4, $"{what}: logits");
        int informative = expectedProbabilities.Count(p => p is > 1e-3f and < 0.999f);
        Assert.True(informative >= expectedProbabilities.Length / classes,
            $"{what}: only {informative} of {expectedProbabilities.Length} probabilities lie in (0.001, 0.999); the test inputs say too little");
    }
}

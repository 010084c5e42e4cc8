using Ongko.Models;
using Ongko.Serialization;
using Ongko.Tensors;

namespace Ongko.Tests.Hostile;

/// <summary>Issue class 1: a model too large for the machine is refused, with the numbers, before anything is allocated.</summary>
public class ModelSizeTests
{
    static string ConfigsFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Ongko.slnx"))) return Path.Combine(dir.FullName, "configs");
        throw new DirectoryNotFoundException("configs/ not found");
    }

    [Fact]
    public void TheEstimateCountsExactlyTheParametersOfEveryShippedConfig()
    {
        var files = Directory.GetFiles(ConfigsFolder(), "*.yaml");
        Assert.NotEmpty(files);
        foreach (string file in files)
        {
            var config = ConfigFile.Load(file);
            var model = LayerFactory.Create(config.Model, file).Build(config.SampleShape, new Rng(1));
            var size = ModelSize.Estimate(config.Model, config.SampleShape);
            Assert.True(model.ParameterCount == size.Parameters, $"{Path.GetFileName(file)}: {model.ParameterCount} parameters, estimated {size.Parameters}");
            Assert.Equal(model.NamedBuffers.Sum(b => (long)b.Value.Length), size.Buffers);
            Assert.Equal(ModelSize.Of(model), size);
            Assert.Null(size.Problem(config.TrainBatch, training: true));
        }
    }

    static string Config(string layers, string batch = "128", string shape = "[28, 28]") => $"""
        train_batch: {batch}
        model:
        {layers}
        augment:
          img_shape: {shape}
        """;

    [Theory]
    // A Linear layer of 20 GB of weights (5e9 floats).
    [InlineData("  - [Conv2D, [3, 8, 3, 1, 1]]\n  - [Flatten]\n  - [Linear, [800000]]", "128", "[28, 28]", "more than the")]
    // Each weight fits an array, the sum does not fit any machine: 4 x 1.6e9 floats.
    [InlineData("  - [Flatten]\n  - [Linear, [640000]]\n  - [Linear, [2500]]\n  - [Linear, [640000]]\n  - [Linear, [2500]]\n  - [Linear, [640000]]", "8", "[25, 33]", "GiB")]
    // Activations: a 16-channel 4096x4096 convolution on batches of 1024.
    [InlineData("  - [Conv2D, [3, 16, 3, 1, 1]]\n  - [Flatten]\n  - [Linear, [10]]", "1024", "[4096, 4096]", "more than the")]
    public void AConfigWhoseModelCannotFitIsRefusedWithTheNumbersBeforeAllocating(string layers, string batch, string shape, string fragment)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<ConfigException>(() => ConfigFile.Parse(Config(layers, batch, shape), "huge.yaml"));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 << 20, "allocated before refusing");
        Assert.StartsWith("huge.yaml: ", error.Message);
        Assert.Contains(fragment, error.Message);
    }

    [Fact]
    public void TheMemoryLimitIsReportedWithTheModelsOwnNumbers()
    {
        var rows = ConfigFile.Parse(Config("  - [Conv2D, [3, 8, 3, 1, 1]]\n  - [Flatten]\n  - [Linear, [10]]"), "small.yaml").Model;
        var size = ModelSize.Estimate(rows, [3, 28, 28]);
        Assert.Equal(3 * 8 * 9 + 8 + 8 * 28 * 28 * 10 + 10, size.Parameters);
        string? problem = size.Problem(128, training: true, maxBytes: 1 << 20);
        Assert.NotNull(problem);
        Assert.Contains($"{size.Parameters:N0} parameters", problem);
        Assert.Contains("over the limit of 1.0 MiB", problem);
        Assert.Null(size.Problem(128, training: true, maxBytes: 1L << 30));
    }
}

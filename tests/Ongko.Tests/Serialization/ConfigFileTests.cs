using Ongko.Models;
using Ongko.Serialization;
using Ongko.Tensors;

namespace Ongko.Tests.Serialization;

public class ConfigFileTests
{
    static string ConfigsFolder
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (Directory.Exists(Path.Combine(dir.FullName, "configs")) && File.Exists(Path.Combine(dir.FullName, "Ongko.slnx")))
                    return Path.Combine(dir.FullName, "configs");
            throw new DirectoryNotFoundException("configs/ not found above the test folder");
        }
    }

    [Theory]
    [InlineData("numta-model3.yaml", 1_724_938, new[] { 3, 48, 48 })]
    [InlineData("lenet.yaml", 44_726, new[] { 3, 28, 28 })]
    public void ShippedConfigsBuildWithTheReferenceParameterCounts(string file, long parameters, int[] sampleShape)
    {
        var config = ConfigFile.Load(Path.Combine(ConfigsFolder, file));
        Assert.Equal(sampleShape, config.SampleShape);
        var model = LayerFactory.Create(config.Model, file).Build(config.SampleShape, new Rng(1));
        Assert.Equal(parameters, model.ParameterCount);
    }

    const string Valid = """
        epochs: 2
        lr: 0.05
        model:
          - [Conv2D, [1, 4, 3, 1, 1]]
          - [ReLU, []]
          - [Flatten, []]
          - [Linear, [10]]
          - [Softmax]
        augment:
          img_shape: [8, 8]
        lr_scheduler:
          factor: 0.5
          patience: 1
        wandb: {project: numta}
        """;

    [Fact]
    public void ReadsReferenceKeysAndNotesIgnoredOnes()
    {
        var config = ConfigFile.Parse(Valid, "c.yaml");
        Assert.Equal(2, config.Epochs);
        Assert.Equal(0.05f, config.LearningRate);
        Assert.Equal(5, config.Model.Count);
        Assert.Equal([1, 8, 8], config.SampleShape);
        Assert.Equal(0.5f, config.LrScheduler.Factor);
        Assert.Equal(["wandb"], config.IgnoredKeys);
    }

    [Theory]
    [InlineData("epochs: 2", "epoch: 2", "line 1: unknown key 'epoch'; did you mean 'epochs'?")]
    [InlineData("  img_shape: [8, 8]", "  img_shap: [8, 8]", "did you mean 'augment.img_shape'?")]
    [InlineData("  - [ReLU, []]", "  - [Relu, []]", "model row 2 (line 5) [Relu, []]: unknown layer 'Relu'; did you mean 'ReLU'?")]
    [InlineData("  - [ReLU, []]", "  - [Dense, [3]]", "unknown layer 'Dense'; known layers: Conv2D")]
    [InlineData("  - [Conv2D, [1, 4, 3, 1, 1]]", "  - [Conv2D, [1, 4]]", "model row 1 (line 4) [Conv2D, [1, 4]]: Conv2D takes 3 to 6 argument(s) (in_channels, out_channels, kernel, stride=1, padding=0, bias=true), got 2")]
    [InlineData("  - [Conv2D, [1, 4, 3, 1, 1]]", "  - [Conv2D, [1, -4, 3, 1, 1]]", "out_channels must be >= 1, got -4")]
    [InlineData("  - [Conv2D, [1, 4, 3, 1, 1]]", "  - [Conv2D, [1, 4, 3, 1, -1]]", "padding must be >= 0, got -1")]
    [InlineData("  - [Linear, [10]]", "  - [Linear, [ten]]", "out_features must be a whole number, got 'ten'")]
    [InlineData("lr: 0.05", "lr: fast", "line 2: 'lr' must be a number, got 'fast'")]
    [InlineData("  factor: 0.5", "  factor: 2", "lr_scheduler.factor must be below 1")]
    [InlineData("  - [Flatten, []]", "  - [MaxPool2D, [9, 9]]", "does not fit input [1, 8, 8]")]
    [InlineData("epochs: 2", "epochs: [2", "not valid YAML")]
    public void RejectsBadConfigsNamingFileLineAndProblem(string original, string replacement, string expected)
    {
        var text = Valid.Replace(original, replacement);
        Assert.NotEqual(Valid, text);
        var ex = Assert.Throws<ConfigException>(() => ConfigFile.Parse(text, "bad.yaml"));
        Assert.StartsWith("bad.yaml", ex.Message);
        Assert.Contains(expected, ex.Message);
    }
}

using Ongko.Cli;
using Ongko.Data;
using Ongko.Serialization;
using Ongko.Tests.Serialization;

namespace Ongko.Tests.Shipped;

/// <summary>The model in models/: small, weights only, carries its preprocessing, reads the committed sample pictures.</summary>
public class ShippedModelTests
{
    static readonly string ModelFile = ConfigKeysTests.RepositoryFile(Path.Combine("models", ShippedModel.FileName));

    [Fact]
    public void ShippedCheckpointIsSmallWeightsOnlyAndCarriesItsPreprocessing()
    {
        Assert.True(new FileInfo(ModelFile).Length < 4 << 20, "the shipped model should stay a few MB");
        var content = Checkpoint.Read(ModelFile);
        Assert.DoesNotContain(content.Tensors.Keys, name => name.StartsWith("optimizer.", StringComparison.Ordinal));
        var state = TrainingCheckpoint.ReadState(content.Metadata, ModelFile);
        Assert.Equal(10, state.ClassCount);
        Assert.Equal(NormalizeMode.Digit, state.Preprocessing.Normalize);
        var model = Checkpoint.LoadModel(ModelFile, content);
        CheckpointMetadata.CheckModel(state.ClassCount, state.Preprocessing, model, ModelFile);
    }

    [Fact]
    public void TheBuildPutsTheShippedModelBesideTheProgram()
    {
        Assert.True(File.Exists(ShippedModel.Path), $"{ShippedModel.Path} is missing: predict without --checkpoint would fail");
        Assert.Equal(File.ReadAllBytes(ModelFile), File.ReadAllBytes(ShippedModel.Path));
    }

    /// <summary>models/samples/&lt;digit&gt;_*.jpg|png: real digits (NumtaDB validation images, some drawn as photos).</summary>
    [Fact]
    public void ShippedModelReadsTheCommittedSamples()
    {
        var content = Checkpoint.Read(ModelFile);
        var state = TrainingCheckpoint.ReadState(content.Metadata, ModelFile);
        var model = Checkpoint.LoadModel(ModelFile, content);
        var options = state.Preprocessing.Clone();
        var pipeline = new ImagePipeline(options);
        var files = Directory.GetFiles(ConfigKeysTests.RepositoryFile(Path.Combine("models", "samples"))).Where(ImageFolderReader.IsImageFile).Order().ToList();
        Assert.True(files.Count >= 10, $"{files.Count} sample pictures");
        var input = new Tensors.Tensor([1, options.Channels, options.Height, options.Width]);
        var wrong = new List<string>();
        foreach (string file in files)
        {
            int expected = Path.GetFileName(file)[0] - '0';
            pipeline.Process(ImageDecoder.DecodeCompact(file, options.Channels), null, input.Span);
            var probabilities = model.Forward(input, training: false).Span;
            int predicted = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(probabilities);
            if (predicted != expected) wrong.Add($"{Path.GetFileName(file)} read as {predicted}");
        }
        Assert.True(wrong.Count == 0, string.Join("; ", wrong));
    }
}

using Ongko.Data;
using Ongko.Serialization;

namespace Ongko.Tests.Errors;

/// <summary>Every kind of bad input surfaces as one exception type that names the file and line.</summary>
public class InputErrorTests
{
    [Fact]
    public void ConfigErrorsCarryFileAndLine()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigFile.Parse("epochs: 3\nepohcs: 4\nmodel:\n  - [ReLU, []]\n", "x.yaml"));
        OngkoInputException input = e;
        Assert.Equal("x.yaml", input.FilePath);
        Assert.Equal(2, input.Line);
        Assert.Contains("did you mean 'epochs'", input.Problem);
        Assert.StartsWith("x.yaml, line 2: ", e.Message);
    }

    [Fact]
    public void DataCheckpointModelAndShapeErrorsAreInputErrors()
    {
        using var dir = new TempDirectory();
        Assert.IsAssignableFrom<OngkoInputException>(Assert.Throws<DataException>(() => NumtaDbReader.Read(dir["missing"])));
        File.WriteAllBytes(dir.File("bad.safetensors"), [1, 2, 3]);
        Assert.IsAssignableFrom<OngkoInputException>(Assert.ThrowsAny<CheckpointException>(() => Checkpoint.Read(dir.File("bad.safetensors"))));
        Assert.IsAssignableFrom<OngkoInputException>(Assert.Throws<Models.ModelSpecException>(
            () => Models.LayerFactory.Create(new Models.LayerSpec("Conv3D", [], 1, 1), "m.yaml")));
        var model = Models.LayerFactory.Create([new Models.LayerSpec("Linear", ["3"], 1, 1)], "m.yaml").Build([4], new Tensors.Rng(1));
        Assert.IsAssignableFrom<OngkoInputException>(Assert.Throws<Layers.ShapeException>(() => model.Forward(new Tensors.Tensor(2, 5), training: false)));
    }
}

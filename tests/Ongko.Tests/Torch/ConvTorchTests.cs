using Ongko.Layers;
using Ongko.Tensors;

namespace Ongko.Tests.Torch;

/// <summary>Conv2D forward, input gradient, weight and bias gradients against PyTorch (fixtures conv_*).</summary>
public class ConvTorchTests
{
    public static TheoryData<string> Cases => TorchFixture.Cases("conv_");

    [Fact]
    public void AllConvolutionFixturesArePresent() =>
        // The reference's own 11 cases, a non-square one, two model-sized ones, a 1x1 kernel and a no-bias case.
        Assert.True(Cases.Count >= 16, $"only {Cases.Count} conv fixtures in {TorchFixture.Directory}");

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string fixtureName)
    {
        var f = TorchFixture.Load(fixtureName);
        int inChannels = f.MetaInt("in_channels"), outChannels = f.MetaInt("out_channels");
        int kernel = f.MetaInt("kernel"), stride = f.MetaInt("stride"), padding = f.MetaInt("padding");
        bool bias = f.MetaBool("bias", true);
        var input = f["input"];
        var expectedOutput = f["output"];
        int batch = input[0], outHeight = expectedOutput[2], outWidth = expectedOutput[3];

        var layer = new Conv2D(inChannels, outChannels, kernel, stride, padding, bias);
        int[] outShape = layer.Build(input.ShapeArray[1..], new Rng(1));
        Assert.Equal(expectedOutput.ShapeArray[1..], outShape);
        Assert.Equal(bias ? 2 : 1, layer.Parameters.Count);
        f.CopyInto("weight", Param(layer, "weight").Value);
        if (bias) f.CopyInto("bias", Param(layer, "bias").Value);

        // Reduction lengths: an output sums in*k*k products (+ bias); an input pixel receives at most
        // out*k*k contributions; a weight or bias gradient sums over batch and output positions.
        int kForward = inChannels * kernel * kernel + 1;
        int kInput = outChannels * kernel * kernel;
        int kWeight = batch * outHeight * outWidth;

        // Twice: layers reuse their buffers, and gradients must be written, not accumulated.
        for (int pass = 1; pass <= 2; pass++)
        {
            string at = $"{fixtureName} (pass {pass})";
            TensorAssert.Close($"{at} output", expectedOutput, layer.Forward(f["input"], training: true), kForward);
            TensorAssert.Close($"{at} grad_input", f["grad_input"], layer.Backward(f["grad_output"]), kInput);
            TensorAssert.Close($"{at} grad_weight", f["grad_weight"], Param(layer, "weight").Gradient, kWeight);
            if (bias) TensorAssert.Close($"{at} grad_bias", f["grad_bias"], Param(layer, "bias").Gradient, kWeight);
        }
    }

    internal static Parameter Param(Layer layer, string name) =>
        layer.Parameters.SingleOrDefault(p => p.Name == name)
        ?? throw new Xunit.Sdk.XunitException($"{layer} has no parameter '{name}' (has {string.Join(", ", layer.Parameters.Select(p => p.Name))})");
}

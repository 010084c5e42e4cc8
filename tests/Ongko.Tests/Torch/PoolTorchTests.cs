using Ongko.Layers;
using Ongko.Tensors;

namespace Ongko.Tests.Torch;

/// <summary>MaxPool2D forward and backward against PyTorch (fixtures pool_*), including overlapping
/// windows, odd sizes and ties, where PyTorch gives the whole gradient to the first maximum of the
/// window in row-major order.</summary>
public class PoolTorchTests
{
    public static TheoryData<string> Cases => TorchFixture.Cases("pool_");

    [Fact]
    public void AllPoolingFixturesArePresent() =>
        Assert.True(Cases.Count >= 6, $"only {Cases.Count} pool fixtures in {TorchFixture.Directory}");

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string fixtureName)
    {
        var f = TorchFixture.Load(fixtureName);
        int kernel = f.MetaInt("kernel"), stride = f.MetaInt("stride");
        var input = f["input"];
        var expectedOutput = f["output"];

        var layer = new MaxPool2D(kernel, stride);
        Assert.Equal(expectedOutput.ShapeArray[1..], layer.Build(input.ShapeArray[1..], new Rng(1)));

        // The output is a copy of one input value: K = 1 (it must in fact be exact). An input element
        // can be the maximum of at most ceil(k/s)^2 overlapping windows, whose gradients it sums.
        int overlap = (kernel + stride - 1) / stride;
        for (int pass = 1; pass <= 2; pass++)
        {
            string at = $"{fixtureName} (pass {pass})";
            TensorAssert.Exact($"{at} output", expectedOutput, layer.Forward(f["input"], training: true));
            TensorAssert.Close($"{at} grad_input", f["grad_input"], layer.Backward(f["grad_output"]), overlap * overlap);
        }
    }
}

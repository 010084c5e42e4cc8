using Ongko.Layers;
using Ongko.Tensors;

namespace Ongko.Tests.Torch;

/// <summary>Linear, ReLU and Softmax against PyTorch (fixtures linear, relu, softmax).</summary>
public class LinearTorchTests
{
    [Fact]
    public void LinearMatchesPyTorch()
    {
        var f = TorchFixture.Load("linear");
        var input = f["input"];   // [4, 20]
        var weight = f["weight"]; // [7, 20]
        int batch = input[0], inFeatures = input[1], outFeatures = weight[0];

        var layer = new Linear(outFeatures);
        Assert.Equal([outFeatures], layer.Build([inFeatures], new Rng(1)));
        f.CopyInto("weight", ConvTorchTests.Param(layer, "weight").Value);
        f.CopyInto("bias", ConvTorchTests.Param(layer, "bias").Value);

        for (int pass = 1; pass <= 2; pass++)
        {
            string at = $"linear (pass {pass})";
            TensorAssert.Close($"{at} output", f["output"], layer.Forward(f["input"], training: true), inFeatures + 1);
            TensorAssert.Close($"{at} grad_input", f["grad_input"], layer.Backward(f["grad_output"]), outFeatures);
            TensorAssert.Close($"{at} grad_weight", f["grad_weight"], ConvTorchTests.Param(layer, "weight").Gradient, batch);
            TensorAssert.Close($"{at} grad_bias", f["grad_bias"], ConvTorchTests.Param(layer, "bias").Gradient, batch);
        }
    }

    [Fact]
    public void ReluMatchesPyTorch()
    {
        var f = TorchFixture.Load("relu");
        var layer = new ReLU();
        Assert.Equal(f["input"].ShapeArray[1..], layer.Build(f["input"].ShapeArray[1..], new Rng(1)));
        TensorAssert.Exact("relu output", f["output"], layer.Forward(f["input"], training: true));
        TensorAssert.Exact("relu grad_input", f["grad_input"], layer.Backward(f["grad_output"]));
    }

    [Fact]
    public void SoftmaxMatchesPyTorch()
    {
        // Row 2 holds a logit of 80 (e^80 overflows float32) and row 3 is shifted by -60 (e^x underflows):
        // only a max-subtracted softmax passes.
        var f = TorchFixture.Load("softmax");
        var input = f["input"]; // [5, 10]
        int classes = input[1];
        var layer = new Softmax();
        layer.Build([classes], new Rng(1));
        for (int pass = 1; pass <= 2; pass++)
        {
            // Each output needs a sum over C exponentials; δinput = y*(δy - sum(δy*y)) another sum over C.
            TensorAssert.Close($"softmax (pass {pass}) output", f["output"], layer.Forward(f["input"], training: true), classes);
            TensorAssert.Close($"softmax (pass {pass}) grad_input", f["grad_input"], layer.Backward(f["grad_output"]), classes);
        }
    }
}

using Ongko.Layers;
using Ongko.Models;
using Ongko.Tensors;
using Ongko.Training;

namespace Ongko.Tests.Torch;

/// <summary>A whole Conv-ReLU-Pool-Flatten-Linear model with cross-entropy against PyTorch (fixture model_small):
/// logits, loss, the input gradient and every parameter gradient, with PyTorch's parameter names.</summary>
public class ModelTorchTests
{
    [Fact]
    public void SmallModelMatchesPyTorch()
    {
        var f = TorchFixture.Load("model_small");
        var input = f["input"]; // [2, 3, 8, 8]
        int[] labels = f.Labels("labels");
        var model = new Sequential([new Conv2D(3, 4, 3, 1, 1), new ReLU(), new MaxPool2D(2, 2), new Flatten(), new Linear(10)]);
        model.Build(input.ShapeArray[1..], new Rng(1));

        string[] names = ["layers.0.weight", "layers.0.bias", "layers.4.weight", "layers.4.bias"];
        Assert.Equal(names, model.NamedParameters.Select(p => p.Name).ToArray());
        foreach (var (name, parameter) in model.NamedParameters) f.CopyInto(name, parameter.Value);

        // The longest chain of reductions: the conv's weight gradient sums N*H*W = 128 products of values
        // that already carry the error of the Linear (64) and conv (27) reductions; K = 256 covers the chain.
        const int K = 256;
        var loss = new CrossEntropyLoss();
        for (int pass = 1; pass <= 2; pass++)
        {
            string at = $"model_small (pass {pass})";
            var logits = model.Forward(f["input"], training: true);
            TensorAssert.Close($"{at} logits", f["logits"], logits, K);
            float value = loss.Forward(logits, labels);
            TensorAssert.Close($"{at} loss", f["loss"], new Tensor([value], 1), K);
            TensorAssert.Close($"{at} grad_input", f["grad_input"], model.Backward(loss.Backward()), K);
            foreach (var (name, parameter) in model.NamedParameters)
                TensorAssert.Close($"{at} grad_{name}", f["grad_" + name], parameter.Gradient, K);
        }
    }
}

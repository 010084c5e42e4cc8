using Ongko.Layers;
using Ongko.Training;

namespace Ongko.Tests.Torch;

/// <summary>Three steps of torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=5e-4), plain and Nesterov
/// (fixtures sgd, sgd_nesterov): PyTorch's semantics are g += wd*p; b = g (first step) or
/// b = momentum*b + g; p -= lr*b (or lr*(g + momentum*b) with Nesterov).</summary>
public class SgdTorchTests
{
    [Theory]
    [InlineData("sgd", false)]
    [InlineData("sgd_nesterov", true)]
    public void ThreeStepsMatchPyTorch(string fixtureName, bool nesterov)
    {
        var f = TorchFixture.Load(fixtureName);
        Assert.Equal(nesterov, f.MetaBool("nesterov", false));
        var p0 = new Parameter("weight", f["param0"]);
        var p1 = new Parameter("bias", f["param1"]);
        var sgd = new Sgd([p0, p1], learningRate: 0.1f, momentum: 0.9f, weightDecay: 5e-4f, nesterov: nesterov);
        for (int step = 1; step <= 3; step++)
        {
            f.CopyInto($"grad0_step{step}", p0.Gradient);
            f.CopyInto($"grad1_step{step}", p1.Gradient);
            sgd.Step();
            // Elementwise: a handful of roundings per step, carried over three steps; K = 8 covers them.
            TensorAssert.Close($"{fixtureName} param0_after{step}", f[$"param0_after{step}"], p0.Value, 8);
            TensorAssert.Close($"{fixtureName} param1_after{step}", f[$"param1_after{step}"], p1.Value, 8);
        }
    }
}

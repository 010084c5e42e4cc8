using System.Globalization;
using Ongko.Layers;
using Ongko.Training;

namespace Ongko.Tests.Torch;

/// <summary>
/// Four steps of torch.optim.Adam (L2 weight decay added to the gradient) and torch.optim.AdamW (decoupled decay
/// θ ← θ·(1 − lr·wd)), fixtures adam and adamw, both with weight decay 0.1; adamw also with non-default betas.
/// param1's gradients are about 1e-8, the size of eps, so where eps enters (√v̂ + eps) matters there.
/// </summary>
public class AdamTorchTests
{
    [Theory]
    [InlineData("adam")]
    [InlineData("adamw")]
    public void FourStepsMatchPyTorch(string fixtureName)
    {
        string? failure = Run(TorchFixture.Load(fixtureName), decoupled: fixtureName == "adamw");
        if (failure is not null) Assert.Fail(failure);
    }

    [Fact]
    public void AdamAndAdamWFixturesTellTheDecayApart()
    {
        // Running each fixture with the other weight-decay rule must fail: the fixtures can see the difference.
        Assert.True(Run(TorchFixture.Load("adam"), decoupled: true) is not null, "the adam fixture also passes with decoupled decay");
        Assert.True(Run(TorchFixture.Load("adamw"), decoupled: false) is not null, "the adamw fixture also passes with L2 decay");
    }

    /// <summary>Runs the fixture's steps; returns the first mismatch or null.</summary>
    static string? Run(TorchFixture f, bool decoupled)
    {
        float Meta(string key) => float.Parse(f.Meta(key), CultureInfo.InvariantCulture);
        var p0 = new Parameter("weight", f["param0"]);
        var p1 = new Parameter("bias", f["param1"]);
        Optimizer adam = decoupled
            ? new AdamW([p0, p1], Meta("lr"), Meta("beta1"), Meta("beta2"), Meta("eps"), Meta("weight_decay"))
            : new Adam([p0, p1], Meta("lr"), Meta("beta1"), Meta("beta2"), Meta("eps"), Meta("weight_decay"));
        int steps = f.MetaInt("steps");
        for (int step = 1; step <= steps; step++)
        {
            f.CopyInto($"grad0_step{step}", p0.Gradient);
            f.CopyInto($"grad1_step{step}", p1.Gradient);
            adam.Step();
            Assert.Equal(step, adam.StepCount);
            // Elementwise: about ten roundings per step (moments, square root, bias corrections, division),
            // carried over four steps; K = 8 as for SGD (sqrt(8)·1e-5 relative, ~500x float32 rounding).
            string? failure = TensorAssert.Compare($"{f.Name} param0_after{step}", f[$"param0_after{step}"], p0.Value, 8)
                           ?? TensorAssert.Compare($"{f.Name} param1_after{step}", f[$"param1_after{step}"], p1.Value, 8);
            if (failure is not null) return failure;
        }
        return null;
    }
}

using Ongko.Tensors;
using Ongko.Training;

namespace Ongko.Tests.Torch;

/// <summary>
/// F.cross_entropy(logits, target, label_smoothing=0.1) for class-index targets (fixture cross_entropy_smooth_hard)
/// and probability targets (cross_entropy_smooth_soft: mixup rows, smoothed by PyTorch as t·(1 − ε) + ε/C).
/// The logits contain a logit of 80 and a row shifted by −60: with smoothing every class has weight, so
/// every log-probability (about −80 or −140 there) enters the loss.
/// </summary>
public class LabelSmoothingTorchTests
{
    [Fact]
    public void HardLabelsMatchPyTorch()
    {
        var f = TorchFixture.Load("cross_entropy_smooth_hard");
        var loss = new CrossEntropyLoss { LabelSmoothing = Smoothing(f) };
        int[] labels = f.Labels("labels");
        var logits = f["logits"];
        for (int pass = 1; pass <= 2; pass++)
        {
            float value = loss.Forward(f["logits"], labels);
            // As in LossTorchTests: log-sum-exp over C per row, then the mean over N rows (K = N·C).
            TensorAssert.Close($"smooth_hard (pass {pass}) loss", f["loss"], new Tensor([value], 1), logits.Length);
            TensorAssert.Close($"smooth_hard (pass {pass}) grad_logits", f["grad_logits"], loss.Backward(), logits[1]);
        }
    }

    [Fact]
    public void SoftTargetsMatchPyTorch()
    {
        var f = TorchFixture.Load("cross_entropy_smooth_soft");
        var loss = new CrossEntropyLoss { LabelSmoothing = Smoothing(f) };
        var logits = f["logits"];
        for (int pass = 1; pass <= 2; pass++)
        {
            float value = loss.Forward(f["logits"], f["targets"]);
            TensorAssert.Close($"smooth_soft (pass {pass}) loss", f["loss"], new Tensor([value], 1), logits.Length);
            TensorAssert.Close($"smooth_soft (pass {pass}) grad_logits", f["grad_logits"], loss.Backward(), logits[1]);
        }
    }

    [Fact]
    public void SmoothingChangesTheResult()
    {
        // Without smoothing the engine must miss the smoothed fixture by far: the fixture can fail a layer that ignores ε.
        var f = TorchFixture.Load("cross_entropy_smooth_hard");
        var loss = new CrossEntropyLoss();
        float value = loss.Forward(f["logits"], f.Labels("labels"));
        Assert.True(TensorAssert.Compare("unsmoothed loss", f["loss"], new Tensor([value], 1), 60) is not null, "the unsmoothed loss matches the smoothed fixture");
        Assert.True(TensorAssert.Compare("unsmoothed grad", f["grad_logits"], loss.Backward(), 10) is not null, "the unsmoothed gradient matches the smoothed fixture");
    }

    static float Smoothing(TorchFixture f) => float.Parse(f.Meta("label_smoothing"), System.Globalization.CultureInfo.InvariantCulture);
}

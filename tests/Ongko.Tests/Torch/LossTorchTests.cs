using Ongko.Tensors;
using Ongko.Training;

namespace Ongko.Tests.Torch;

/// <summary>Cross-entropy on logits (log-softmax + NLL, batch mean) against PyTorch with hard and soft labels.
/// Both fixtures contain a row with a logit of 80 and a row shifted by -60: a naive softmax overflows/underflows.</summary>
public class LossTorchTests
{
    [Fact]
    public void HardLabelsMatchPyTorch()
    {
        var f = TorchFixture.Load("cross_entropy_hard");
        var logits = f["logits"];
        int[] labels = f.Labels("labels");
        var loss = new CrossEntropyLoss();
        int reduction = logits.Length; // log-sum-exp over C per row, then the mean over N rows
        for (int pass = 1; pass <= 2; pass++)
        {
            float value = loss.Forward(f["logits"], labels);
            TensorAssert.Close($"cross_entropy_hard (pass {pass}) loss", f["loss"], new Tensor([value], 1), reduction);
            TensorAssert.Close($"cross_entropy_hard (pass {pass}) grad_logits", f["grad_logits"], loss.Backward(), logits[1]);
        }
    }

    [Fact]
    public void SoftLabelsMatchPyTorch()
    {
        var f = TorchFixture.Load("cross_entropy_soft");
        var logits = f["logits"];
        var loss = new CrossEntropyLoss();
        for (int pass = 1; pass <= 2; pass++)
        {
            float value = loss.Forward(f["logits"], f["targets"]);
            TensorAssert.Close($"cross_entropy_soft (pass {pass}) loss", f["loss"], new Tensor([value], 1), logits.Length);
            TensorAssert.Close($"cross_entropy_soft (pass {pass}) grad_logits", f["grad_logits"], loss.Backward(), logits[1]);
        }
    }

    [Fact]
    public void OneHotSoftLabelsEqualHardLabels()
    {
        var f = TorchFixture.Load("cross_entropy_hard");
        int[] labels = f.Labels("labels");
        var logits = f["logits"];
        var oneHot = new Tensor(logits.ShapeArray);
        for (int n = 0; n < labels.Length; n++) oneHot.Span[n * logits[1] + labels[n]] = 1;
        var hard = new CrossEntropyLoss();
        var soft = new CrossEntropyLoss();
        float hardValue = hard.Forward(logits, labels);
        var hardGradient = hard.Backward().Clone();
        float softValue = soft.Forward(f["logits"], oneHot);
        TensorAssert.Close("one-hot loss", new Tensor([hardValue], 1), new Tensor([softValue], 1), logits.Length);
        TensorAssert.Close("one-hot grad_logits", hardGradient, soft.Backward(), logits[1]);
    }
}

using Ongko.Tensors;
using Ongko.Training;

namespace Ongko.Tests.Training;

public class CrossEntropyTests
{
    [Fact]
    public void GradientIsExactForTargetRowsThatDoNotSumToOne()
    {
        var rng = new Rng(9);
        var logits = TestData.RandomTensor(rng, 3, 4);
        var targets = new Tensor([0.5f, 0, 0.2f, 0, 0, 1.5f, 0, 0, 0.3f, 0.3f, 0.3f, 0.3f], 3, 4);
        var loss = new CrossEntropyLoss();
        loss.Forward(logits, targets);
        var analytic = loss.Backward().Span.ToArray();
        const float ε = 1e-2f;
        for (int i = 0; i < logits.Length; i++)
        {
            float saved = logits.Span[i];
            logits.Span[i] = saved + ε; double plus = loss.Forward(logits, targets);
            logits.Span[i] = saved - ε; double minus = loss.Forward(logits, targets);
            logits.Span[i] = saved;
            Assert.Equal((plus - minus) / (2 * ε), analytic[i], 3);
        }
    }
}

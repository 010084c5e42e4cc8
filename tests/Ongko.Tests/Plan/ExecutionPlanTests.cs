using Ongko.Kernels;
using Ongko.Layers;
using Ongko.Models;
using Ongko.Tensors;

namespace Ongko.Tests.Plan;

/// <summary>The compiled plan: which layers fuse, where the logits are, where the training backward pass stops.</summary>
public class ExecutionPlanTests
{
    static string Describe(ExecutionPlan plan) =>
        string.Join(" | ", plan.Steps.Select(s => $"{s.FirstLayer}:{s.LayerCount}:" + s switch
        {
            ActivatedStep a => a.Activation.ToString(),
            FoldedBatchNormStep f => "BN" + (f.Activation == Activation.ReLU ? "+ReLU" : ""),
            ConvolutionStep c when c.BatchNorm is not null || c.MaxPool is not null =>
                (c.BatchNorm is null ? "" : "BN") + (c.Activation == Activation.ReLU ? "+ReLU" : "") + (c.MaxPool is null ? "" : "+Pool"),
            ConvolutionStep c => c.Activation == Activation.ReLU ? "ReLU" : "-",
            BatchNormMaxPoolStep b => "BN" + (b.Activation == Activation.ReLU ? "+ReLU" : "") + "+Pool",
            _ => "-",
        }));

    [Fact]
    public void ReLUAfterConvolutionOrBatchNormBecomesTheirArgument()
    {
        var model = new Sequential([new Conv2D(1, 4, 3, 1, 1), new ReLU(),                         // 0, 1: fused
                                    new Conv2D(4, 4, 3, 1, 1, bias: false), new BatchNorm2D(4), new ReLU(),   // 2; 3, 4: fused
                                    new MaxPool2D(2, 2), new ReLU(),                                // 5, 6: not fused (pooling takes none; 6x6 planes are too small to pool with 3, 4)
                                    new Flatten(), new Linear(8), new ReLU(),                       // 7; 8, 9: fused
                                    new BatchNorm1D(8), new ReLU(), new Linear(3), new Softmax()]) // 10, 11: fused; 12; 13
            .Build([1, 6, 6], new Rng(1));
        Assert.Equal("0:2:ReLU | 2:1:- | 3:2:ReLU | 5:1:- | 6:1:- | 7:1:- | 8:2:ReLU | 10:2:ReLU | 12:1:- | 13:1:-", Describe(model.TrainingPlan));
        // Evaluation folds the BatchNorm right after a convolution (and the ReLU after it) into the convolution, and a 2x2
        // pooling after a convolution by direct loops (4 input channels) into its output pass.
        Assert.Equal("0:2:ReLU | 2:4:BN+ReLU+Pool | 6:1:- | 7:1:- | 8:2:ReLU | 10:2:ReLU | 12:1:- | 13:1:-", Describe(model.EvaluationPlan));
        foreach (var plan in new[] { model.TrainingPlan, model.EvaluationPlan })
        {
            Assert.True(plan.EndsWithSoftmax);
            Assert.Equal(plan.Steps.Count - 1, plan.LogitSteps);
            Assert.Equal(0, plan.FirstTrainedStep);
            Assert.False(plan.NeedsInputGradient(0));
            Assert.True(plan.NeedsInputGradient(1));
        }
        // Names come from the declared indices, whatever the plan made of them.
        Assert.Equal(["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.3.weight", "layers.3.bias",
                      "layers.8.weight", "layers.8.bias", "layers.10.weight", "layers.10.bias", "layers.12.weight", "layers.12.bias"],
                     model.NamedParameters.Select(p => p.Name).ToArray());
        Assert.Equal(model.Layers.Count, model.LayerOutputShapes.Count);
    }

    [Fact]
    public void WithoutSoftmaxTheLogitsAreTheOutput()
    {
        var model = new Sequential([new Flatten(), new Linear(3)]).Build([2, 2], new Rng(1));
        Assert.False(model.TrainingPlan.EndsWithSoftmax);
        Assert.Equal(2, model.TrainingPlan.LogitSteps);
        var x = TestData.RandomTensor(new Rng(2), 4, 2, 2);
        Assert.Equal(model.Forward(x, training: false).Span.ToArray(), model.ForwardLogits(x, training: false).Span.ToArray());
    }

    /// <summary>
    /// The training backward pass: the first step with parameters computes no δinput (a model starting with a
    /// convolution), and layers without parameters before it get no backward pass at all; the parameter gradients
    /// are bitwise those of the full backward pass.
    /// </summary>
    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 2)]
    public void TrainingBackwardStopsAtTheFirstStepWithParameters(bool leadingLayersWithoutParameters, int firstTrainedStep)
    {
        Layer[] front = leadingLayersWithoutParameters ? [new Dropout2D(0.25f), new MaxPool2D(2, 2)] : [];
        var model = new Sequential([.. front, new Conv2D(2, 3, 3, 1, 1), new ReLU(), new MaxPool2D(2, 2), new Flatten(), new Linear(4), new Softmax()])
            .Build([2, 8, 8], new Rng(3));
        var plan = model.TrainingPlan;
        Assert.Equal(firstTrainedStep, plan.FirstTrainedStep);
        Assert.False(plan.NeedsInputGradient(firstTrainedStep));
        var rng = new Rng(4);
        var x = TestData.RandomTensor(rng, 5, 2, 8, 8);
        var δ = TestData.RandomTensor(rng, 5, 4);
        var dropoutState = model.Layers[0].SaveState();
        model.ForwardLogits(x, training: true);
        var δx = model.BackwardFromLogits(δ);
        Assert.Equal(x.ShapeArray, δx.ShapeArray);
        var full = model.Parameters.Select(p => p.Gradient.Span.ToArray()).ToList();
        foreach (var p in model.Parameters) p.Gradient.Fill(float.NaN);
        if (dropoutState is not null) model.Layers[0].LoadState(dropoutState);   // the same dropout mask again
        model.ForwardLogits(x, training: true);
        model.BackwardParametersFromLogits(δ);
        var parametersOnly = model.Parameters.Select(p => p.Gradient.Span.ToArray()).ToList();
        for (int i = 0; i < full.Count; i++) Assert.Equal(full[i], parametersOnly[i]);
    }

    [Fact]
    public void AModelWithoutParametersHasNoTrainingBackward()
    {
        var model = new Sequential([new Flatten(), new Softmax()]).Build([3], new Rng(1));
        Assert.Equal(2, model.TrainingPlan.FirstTrainedStep);
        model.ForwardLogits(TestData.RandomTensor(new Rng(1), 2, 3), training: true);
        model.BackwardParametersFromLogits(TestData.RandomTensor(new Rng(2), 2, 3));   // nothing to do, no error
    }

    [Fact]
    public void UnbuiltModelHasNoPlan()
    {
        var model = new Sequential([new Linear(2)]);
        Assert.Throws<InvalidOperationException>(() => model.TrainingPlan);
    }

    /// <summary>A fused step's Backward with the activation masks δy as the separate ReLU would (kernel argument, no layer state).</summary>
    [Fact]
    public void ActivationIsAnArgumentOfTheProducingLayer()
    {
        var conv = new Conv2D(2, 3, 3, 1, 1);
        conv.Build([2, 5, 5], new Rng(5));
        var rng = new Rng(6);
        var x = TestData.RandomTensor(rng, 3, 2, 5, 5);
        var plain = conv.Forward(x, training: true).Span.ToArray();
        var rectified = conv.Forward(x, training: true, Activation.ReLU).Span.ToArray();
        Assert.Equal(plain.Select(v => Math.Max(v, 0f)).ToArray(), rectified);
        Assert.Contains(plain, v => v < 0);
    }

    /// <summary>Linear followed by ReLU, one step in the training plan, against the two layers one after the other: bitwise equal.</summary>
    [Fact]
    public void FusedLinearAndReLUMatchTheLayersOneAfterTheOther()
    {
        var model = new Sequential([new Linear(7), new ReLU(), new Linear(3)]).Build([5], new Rng(2));
        Layer[] twin = [new Linear(7), new ReLU(), new Linear(3)];
        int[] shape = [5];
        foreach (var layer in twin) shape = layer.Build(shape, new Rng(1));
        var twinParameters = twin.SelectMany(l => l.Parameters).ToList();
        foreach (var (mine, theirs) in model.Parameters.Zip(twinParameters)) mine.Value.Span.CopyTo(theirs.Value.Span);
        var rng = new Rng(3);
        var x = TestData.RandomTensor(rng, 6, 5);
        var y = model.Forward(x, training: true).Span.ToArray();
        var h = twin[1].Forward(twin[0].Forward(x, true), true);
        Assert.Contains(h.Span.ToArray(), v => v == 0);
        Assert.Equal(twin[2].Forward(h, true).Span.ToArray(), y);
        var δ = TestData.RandomTensor(rng, 6, 3);
        var δx = model.Backward(δ).Span.ToArray();
        Assert.Equal(twin[0].Backward(twin[1].Backward(twin[2].Backward(δ))).Span.ToArray(), δx);
        foreach (var (mine, theirs) in model.Parameters.Zip(twinParameters))
            Assert.Equal(theirs.Gradient.Span.ToArray(), mine.Gradient.Span.ToArray());
    }

    static Sequential BatchNormModel()
    {
        var model = new Sequential([new Conv2D(2, 6, 3, 1, 1), new BatchNorm2D(6), new ReLU(),                // folded, with bias and ReLU
                                    new Conv2D(6, 8, 3, 1, 1, bias: false), new BatchNorm2D(8), new MaxPool2D(2, 2),   // folded, no ReLU
                                    new Flatten(), new Linear(16, bias: false), new BatchNorm1D(16), new ReLU(),       // folded rows
                                    new Dropout(0.3f), new Linear(4), new Softmax()]).Build([2, 8, 8], new Rng(7));
        var rng = new Rng(8);
        foreach (var layer in model.Layers.OfType<BatchNorm>())
        {
            int c = layer.Weight.Value.Length;
            TestData.Random(c, rng).CopyTo(layer.Weight.Value.Span);
            TestData.Random(c, rng).CopyTo(layer.Bias.Value.Span);
            TestData.Random(c, rng, 0.5f).CopyTo(layer.RunningMean.Span);
            for (int i = 0; i < c; i++) layer.RunningVariance.Span[i] = 0.2f + 2 * rng.NextFloat();
        }
        TestData.Random(6, rng).CopyTo(((Conv2D)model.Layers[0]).Bias!.Value.Span);
        return model;
    }

    /// <summary>The folded evaluation plan against the unfolded steps in evaluation mode (rounding-level differences only).</summary>
    [Fact]
    public void FoldedEvaluationMatchesTheUnfoldedLayers()
    {
        var model = BatchNormModel();
        Assert.Equal("0:3:BN+ReLU | 3:2:BN | 5:1:- | 6:1:- | 7:3:BN+ReLU | 10:1:- | 11:1:- | 12:1:-", Describe(model.EvaluationPlan));
        var x = TestData.RandomTensor(new Rng(9), 5, 2, 8, 8);
        for (int round = 0; round < 2; round++)
        {
            var folded = model.ForwardLogits(x, training: false).Span.ToArray();
            var unfolded = model.TrainingPlan.Forward(x, training: false, toLogits: true).Span.ToArray();
            TestData.AssertClose(unfolded, folded, 1e-5, 1e-5, $"logits, round {round}");
            var probabilities = model.Forward(x, training: false).Span.ToArray();
            TestData.AssertClose(model.TrainingPlan.Forward(x, training: false, toLogits: false).Span.ToArray(), probabilities, 1e-6, 1e-5, "probabilities");
            // Weights and statistics changed after Build (training, a checkpoint): the next evaluation sees them.
            var bn = (BatchNorm)model.Layers[4];
            bn.RunningMean.Span[0] += 1;
            bn.Weight.Value.Span[1] *= -2;
            ((Linear)model.Layers[7]).Weight.Value.Span[3] += 0.5f;
        }
    }

    [Fact]
    public void FoldedEvaluationHasNoBackwardPass()
    {
        var model = BatchNormModel();
        model.Forward(TestData.RandomTensor(new Rng(1), 2, 2, 8, 8), training: false);
        var error = Assert.Throws<InvalidOperationException>(() => model.Backward(TestData.RandomTensor(new Rng(2), 2, 4)));
        Assert.Contains("training: true", error.Message);
        // Training mode still runs the unfolded steps and has gradients.
        model.Forward(TestData.RandomTensor(new Rng(1), 2, 2, 8, 8), training: true);
        Assert.Equal([2, 2, 8, 8], model.Backward(TestData.RandomTensor(new Rng(2), 2, 4)).ShapeArray);
    }
}

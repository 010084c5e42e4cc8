using Ongko.Kernels;
using Ongko.Layers;
using Ongko.Models;
using Ongko.Tensors;

namespace Ongko.Tests.Plan;

/// <summary>The compiled plan: which layers fuse, where the logits are, where the training backward pass stops.</summary>
public class ExecutionPlanTests
{
    static string Describe(ExecutionPlan plan) =>
        string.Join(" | ", plan.Steps.Select(s => $"{s.FirstLayer}:{s.LayerCount}:{(s is ActivatedStep a ? a.Activation.ToString() : "-")}"));

    [Fact]
    public void ReLUAfterConvolutionOrBatchNormBecomesTheirArgument()
    {
        var model = new Sequential([new Conv2D(1, 4, 3, 1, 1), new ReLU(),                         // 0, 1: fused
                                    new Conv2D(4, 4, 3, 1, 1, bias: false), new BatchNorm2D(4), new ReLU(),   // 2; 3, 4: fused
                                    new MaxPool2D(2, 2), new ReLU(),                                // 5, 6: not fused (pooling takes none)
                                    new Flatten(), new Linear(8), new ReLU(),                       // 7, 8, 9: Linear takes none
                                    new BatchNorm1D(8), new ReLU(), new Linear(3), new Softmax()]) // 10, 11: fused; 12; 13
            .Build([1, 6, 6], new Rng(1));
        foreach (var plan in new[] { model.TrainingPlan, model.EvaluationPlan })
        {
            Assert.Equal("0:2:ReLU | 2:1:- | 3:2:ReLU | 5:1:- | 6:1:- | 7:1:- | 8:1:- | 9:1:- | 10:2:ReLU | 12:1:- | 13:1:-", Describe(plan));
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
}

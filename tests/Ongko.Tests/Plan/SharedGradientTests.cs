using Ongko.Layers;
using Ongko.Models;
using Ongko.Tensors;
using Ongko.Tests.Export;

namespace Ongko.Tests.Plan;

/// <summary>The training backward pass writes every δ into two shared buffers (liveness) instead of one per layer.</summary>
[Collection(ThreadCountCollection.Name)]
public class SharedGradientTests
{
    public static TheoryData<string> ShippedConfigs() => ExportModels.ShippedConfigs();

    /// <summary>
    /// The parameter gradients of the training pass (shared δ buffers) are bitwise those of the full backward pass, whose
    /// layers keep a δ buffer each; the shared buffers hold two of the largest δ, less than all the δ together.
    /// </summary>
    [Theory]
    [MemberData(nameof(ShippedConfigs))]
    public void SharedBuffersGiveTheGradientsOfOwnBuffers(string config)
    {
        var (model, _) = ExportModels.FromConfig(config);
        AssertSameGradients(model, batch: 6, classes: 10, seed: 7);
        var plan = model.TrainingPlan;
        long largest = 0, all = 0;
        var x = TestData.RandomTensor(new Rng(8), [6, .. model.InputShape]);
        for (int i = 0; i < plan.LogitSteps; i++)
        {
            if (plan.NeedsInputGradient(i)) (largest, all) = (Math.Max(largest, x.Length), all + x.Length);
            x = plan.Steps[i].Forward(x, training: true);
        }
        Assert.Equal(2 * largest, plan.SharedGradientLength);
        // The BatchNorm network saves most; where the first δ is most of all (LeNet, model3) two of it cost about as much.
        if (config is "numta28-best" or "shipped")
            Assert.True(2 * largest < all / 2, $"{config}: shared {2 * largest} floats, separate {all}");
    }

    /// <summary>
    /// Layers whose δinput is a view of δoutput (Flatten) or δoutput itself (Dropout outside training is not run here; in
    /// training it writes its own) sit between writers: each writer still gets the buffer its δoutput is not in.
    /// </summary>
    [Fact]
    public void ViewsAndPassThroughsBetweenWritersKeepTheBuffersApart()
    {
        var model = new Sequential([new Conv2D(2, 3, 3, 1, 1), new ReLU(), new MaxPool2D(2, 2), new ReLU(), new Flatten(), new Dropout(0.3f),
                                    new Flatten(), new Linear(5), new BatchNorm1D(5), new Softmax(), new Linear(4), new Softmax()])
            .Build([2, 8, 8], new Rng(3));
        AssertSameGradients(model, batch: 5, classes: 4, seed: 9);
        // A bigger batch grows the shared buffers once, before the pass.
        AssertSameGradients(model, batch: 11, classes: 4, seed: 10);
    }

    static void AssertSameGradients(Sequential model, int batch, int classes, int seed)
    {
        var rng = new Rng((ulong)seed);
        var x = TestData.RandomTensor(rng, [batch, .. model.InputShape]);
        var δ = TestData.RandomTensor(rng, batch, classes);
        var states = model.Layers.Select(layer => layer.SaveState()).ToArray();
        model.ForwardLogits(x, training: true);
        model.BackwardFromLogits(δ);
        var own = model.Parameters.Select(p => p.Gradient.Span.ToArray()).ToList();
        foreach (var p in model.Parameters) p.Gradient.Fill(float.NaN);
        for (int i = 0; i < states.Length; i++) if (states[i] is { } state) model.Layers[i].LoadState(state);   // the same dropout masks
        model.ForwardLogits(x, training: true);
        model.BackwardParametersFromLogits(δ);
        var shared = model.Parameters.Select(p => p.Gradient.Span.ToArray()).ToList();
        for (int i = 0; i < own.Count; i++) Assert.Equal(own[i], shared[i]);
        Assert.Contains(own, g => g.Any(v => v != 0));
    }
}

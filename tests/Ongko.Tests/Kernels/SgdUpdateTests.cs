using Ongko.Kernels;
using Ongko.Layers;
using Ongko.Tensors;
using Ongko.Training;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Ongko.Tests.Kernels;

/// <summary>The one-pass SGD update against its element loop, and the optimizer against the same update written as whole-array operations.</summary>
[Collection(ThreadCountCollection.Name)]
public class SgdUpdateTests
{
    [Fact]
    public void VectorPassEqualsTheElementLoopBitForBit()
    {
        var rng = new Rng(5);
        foreach (int length in new[] { 1, 7, 16, 37, 1000 })
            foreach (float weightDecay in new[] { 0f, 5e-4f })
                foreach (float momentum in new[] { 0f, 0.9f })
                    foreach (bool nesterov in momentum == 0 ? new[] { false } : [false, true])
                        foreach (bool first in new[] { true, false })
                        {
                            var θ = TestData.Random(length, rng);
                            var gradient = TestData.Random(length, rng);
                            var velocity = TestData.Random(length, rng);
                            var (θ2, velocity2) = ((float[])θ.Clone(), (float[])velocity.Clone());
                            SgdUpdate.StepNaive(θ, gradient, velocity, 0.05f, momentum, weightDecay, nesterov, first);
                            SgdUpdate.Step(θ2, gradient, momentum == 0 ? default : velocity2, 0.05f, momentum, weightDecay, nesterov, first);
                            Assert.Equal(θ, θ2);
                            Assert.Equal(velocity, velocity2);
                        }
    }

    /// <summary>
    /// Sgd (one pass, large parameters split over the workers) gives bit for bit what the update written as TensorPrimitives passes
    /// gives, over three steps, at 1 and 2 threads.
    /// </summary>
    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(2, true)]
    public void OptimizerEqualsTheArrayFormulation(int threads, bool nesterov)
    {
        int saved = Threads.Count;
        Threads.Count = threads;
        try
        {
            var rng = new Rng(6);
            var parameters = new[] { Sgd.ParallelMinimum * 2 + 5, 300 }.Select(n => new Parameter("w", new Tensor(TestData.Random(n, rng), [n]))).ToArray();
            var reference = parameters.Select(p => p.Value.Span.ToArray()).ToArray();
            var velocities = parameters.Select(p => new float[p.Value.Length]).ToArray();
            var sgd = new Sgd(parameters, learningRate: 0.1f, momentum: 0.9f, weightDecay: 5e-4f, nesterov: nesterov);
            for (int step = 0; step < 3; step++)
            {
                for (int i = 0; i < parameters.Length; i++)
                {
                    TestData.Random(parameters[i].Value.Length, rng).CopyTo(parameters[i].Gradient.Span);
                    // The whole-array formulation (the optimizer's former code).
                    var g = new float[reference[i].Length];
                    TensorPrimitives.MultiplyAdd(reference[i], 5e-4f, parameters[i].Gradient.Span, g);
                    if (step == 0) g.CopyTo(velocities[i]);
                    else TensorPrimitives.MultiplyAdd(velocities[i], 0.9f, g, velocities[i]);
                    if (nesterov) TensorPrimitives.MultiplyAdd(velocities[i], 0.9f, g, g);
                    else velocities[i].CopyTo(g);
                    TensorPrimitives.MultiplyAdd(g, -0.1f, reference[i], reference[i]);
                }
                sgd.Step();
                for (int i = 0; i < parameters.Length; i++) Assert.Equal(reference[i], parameters[i].Value.Span.ToArray());
            }
            Assert.Equal(velocities[0], sgd.State.Single(s => s.Index == 0).Value.Span.ToArray());
        }
        finally { Threads.Count = saved; }
    }
}

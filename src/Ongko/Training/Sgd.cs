using Ongko.Layers;
using Ongko.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Ongko.Training;

/// <summary>
/// Stochastic gradient descent with PyTorch's semantics:
/// g = ∇ + weightDecay·θ;  v = momentum·v + g (v = g on the first step);
/// step = nesterov ? g + momentum·v : v;  θ −= lr·step.
/// </summary>
public sealed class Sgd
{
    readonly Parameter[] parameters;
    readonly Tensor?[] velocities;
    float[] scratch = [];

    public Sgd(IEnumerable<Parameter> parameters, float learningRate, float momentum = 0, float weightDecay = 0, bool nesterov = false)
    {
        if (learningRate < 0 || momentum < 0 || weightDecay < 0) throw new ArgumentException("learning rate, momentum and weight decay must be >= 0");
        if (nesterov && momentum <= 0) throw new ArgumentException("Nesterov momentum needs momentum > 0");
        this.parameters = parameters.ToArray();
        velocities = new Tensor?[this.parameters.Length];
        (LearningRate, Momentum, WeightDecay, Nesterov) = (learningRate, momentum, weightDecay, nesterov);
    }

    public float LearningRate { get; set; }
    public float Momentum { get; }
    public float WeightDecay { get; }
    public bool Nesterov { get; }

    /// <summary>Momentum buffers (null until the first step), for checkpoints.</summary>
    public IReadOnlyList<Tensor?> Velocities => velocities;

    public void SetVelocity(int index, Tensor velocity)
    {
        if (!velocity.SameShape(parameters[index].Value))
            throw new ShapeException($"momentum buffer {index}: expected {Tensor.ShapeString(parameters[index].Value.Shape)}, got {Tensor.ShapeString(velocity.Shape)}");
        velocities[index] = velocity;
    }

    public void Step()
    {
        for (int i = 0; i < parameters.Length; i++)
        {
            var θ = parameters[i].Value.Span;
            var gradient = parameters[i].Gradient.Span;
            if (scratch.Length < θ.Length) scratch = new float[θ.Length];
            var g = scratch.AsSpan(0, θ.Length);
            if (WeightDecay != 0) TensorPrimitives.MultiplyAdd(θ, WeightDecay, gradient, g);  // g = θ·wd + ∇
            else gradient.CopyTo(g);
            if (Momentum != 0)
            {
                if (velocities[i] is null) { velocities[i] = new Tensor(parameters[i].Value.ShapeArray); g.CopyTo(velocities[i]!.Span); }
                else TensorPrimitives.MultiplyAdd(velocities[i]!.Span, Momentum, g, velocities[i]!.Span);  // v = v·m + g
                var v = velocities[i]!.Span;
                if (Nesterov) TensorPrimitives.MultiplyAdd(v, Momentum, g, g);  // g = v·m + g
                else v.CopyTo(g);
            }
            TensorPrimitives.MultiplyAdd(g, -LearningRate, θ, θ);  // θ = g·(−lr) + θ
        }
    }
}

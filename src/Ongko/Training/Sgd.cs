using Ongko.Layers;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Ongko.Training;

/// <summary>
/// Stochastic gradient descent with PyTorch's semantics:
/// g = ∇ + weightDecay·θ;  v = momentum·v + g (v = g on the first step);
/// step = nesterov ? g + momentum·v : v;  θ −= lr·step.
/// </summary>
public sealed class Sgd : Optimizer
{
    float[] scratch = [];

    public Sgd(IEnumerable<Parameter> parameters, float learningRate, float momentum = 0, float weightDecay = 0, bool nesterov = false)
        : base(parameters, learningRate)
    {
        if (momentum < 0 || weightDecay < 0) throw new ArgumentException("momentum and weight decay must be >= 0");
        if (nesterov && momentum <= 0) throw new ArgumentException("Nesterov momentum needs momentum > 0");
        (Momentum, WeightDecay, Nesterov) = (momentum, weightDecay, nesterov);
    }

    public override float Momentum { get; set; }
    public float WeightDecay { get; }
    public bool Nesterov { get; }

    protected override void Update(int index, Span<float> θ, ReadOnlySpan<float> gradient)
    {
        if (scratch.Length < θ.Length) scratch = new float[θ.Length];
        var g = scratch.AsSpan(0, θ.Length);
        if (WeightDecay != 0) TensorPrimitives.MultiplyAdd(θ, WeightDecay, gradient, g);  // g = θ·wd + ∇
        else gradient.CopyTo(g);
        if (Momentum != 0)
        {
            var v = StateOf("velocity", index, out bool created);
            if (created) g.CopyTo(v);
            else TensorPrimitives.MultiplyAdd(v, Momentum, g, v);  // v = v·m + g
            if (Nesterov) TensorPrimitives.MultiplyAdd(v, Momentum, g, g);  // g = v·m + g
            else v.CopyTo(g);
        }
        TensorPrimitives.MultiplyAdd(g, -LearningRate, θ, θ);  // θ = g·(−lr) + θ
    }
}

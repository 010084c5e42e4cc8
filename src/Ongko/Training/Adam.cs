using Ongko.Layers;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Ongko.Training;

/// <summary>
/// Adam with PyTorch's semantics (weight decay as L2 added to the gradient):
/// g = ∇ + wd·θ; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
/// θ −= lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε).
/// </summary>
public class Adam : Optimizer
{
    float[] scratch = [];

    public Adam(IEnumerable<Parameter> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
                float epsilon = 1e-8f, float weightDecay = 0) : base(parameters, learningRate)
    {
        if (beta1 is < 0 or >= 1 || beta2 is < 0 or >= 1) throw new ArgumentException("Adam betas must be in [0, 1)");
        if (epsilon <= 0 || weightDecay < 0) throw new ArgumentException("Adam eps must be > 0 and weight decay >= 0");
        (Momentum, Beta2, Epsilon, WeightDecay) = (beta1, beta2, epsilon, weightDecay);
    }

    /// <summary>β1.</summary>
    public override float Momentum { get; set; }
    public float Beta2 { get; }
    public float Epsilon { get; }
    public float WeightDecay { get; }

    /// <summary>AdamW decays θ directly instead of adding wd·θ to the gradient.</summary>
    protected virtual bool DecoupledWeightDecay => false;

    protected override void Update(int index, Span<float> θ, ReadOnlySpan<float> gradient)
    {
        if (scratch.Length < θ.Length) scratch = new float[θ.Length];
        var g = scratch.AsSpan(0, θ.Length);
        if (DecoupledWeightDecay) { if (WeightDecay != 0) TensorPrimitives.Multiply(θ, 1 - LearningRate * WeightDecay, θ); gradient.CopyTo(g); }
        else if (WeightDecay != 0) TensorPrimitives.MultiplyAdd(θ, WeightDecay, gradient, g);
        else gradient.CopyTo(g);

        var m = StateOf("exp_avg", index, out _);
        var v = StateOf("exp_avg_sq", index, out _);
        float β1 = Momentum, β2 = Beta2;
        TensorPrimitives.Lerp(m, g, 1 - β1, m);                       // m = m + (g − m)(1 − β1)
        for (int i = 0; i < v.Length; i++) v[i] = β2 * v[i] + (1 - β2) * g[i] * g[i];
        double biasCorrection1 = 1 - Math.Pow(β1, StepCount), biasCorrection2 = 1 - Math.Pow(β2, StepCount);
        float stepSize = (float)(LearningRate / biasCorrection1);
        float rootCorrection2 = (float)Math.Sqrt(biasCorrection2);
        for (int i = 0; i < θ.Length; i++) θ[i] -= stepSize * m[i] / (MathF.Sqrt(v[i]) / rootCorrection2 + Epsilon);
    }
}

/// <summary>AdamW (Loshchilov and Hutter): Adam with decoupled weight decay θ ← θ·(1 − lr·wd), PyTorch's default wd 0.01.</summary>
public sealed class AdamW(IEnumerable<Parameter> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
                          float epsilon = 1e-8f, float weightDecay = 0.01f) : Adam(parameters, learningRate, beta1, beta2, epsilon, weightDecay)
{
    protected override bool DecoupledWeightDecay => true;
}

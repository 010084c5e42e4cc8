using Ongko.Kernels;
using Ongko.Layers;

namespace Ongko.Training;

/// <summary>
/// Stochastic gradient descent with PyTorch's semantics:
/// g = ∇ + weightDecay·θ;  v = momentum·v + g (v = g on the first step);
/// step = nesterov ? g + momentum·v : v;  θ −= lr·step.
/// </summary>
public sealed class Sgd : Optimizer
{
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

    /// <summary>Parameters with fewer elements than this are updated on the calling thread; larger ones in blocks over the workers.</summary>
    internal const int ParallelMinimum = 1 << 16;
    const int Block = 4096;

    float[] θSeen = [], gradientSeen = [], velocitySeen = [];
    int lengthSeen;
    bool firstSeen;
    Action<int, int, int>? updateBlocks;   // cached: a dispatch allocates nothing

    protected override void Update(int index, Span<float> θ, ReadOnlySpan<float> gradient)
    {
        bool first = false;
        var velocity = Momentum != 0 ? StateTensor("velocity", index, out first) : null;
        if (θ.Length < ParallelMinimum || Threads.Count == 1)
        {
            SgdUpdate.Step(θ, gradient, velocity is null ? default : velocity.Span, LearningRate, Momentum, WeightDecay, Nesterov, first);
            return;
        }
        // Memory-bound: the blocks go to the workers (elementwise, so the result does not depend on the split).
        (θSeen, gradientSeen, velocitySeen, lengthSeen, firstSeen) = (parameters[index].Value.Data, parameters[index].Gradient.Data, velocity?.Data ?? [], θ.Length, first);
        Threads.ForRanges((θ.Length + Block - 1) / Block, updateBlocks ??= UpdateBlocks);
        (θSeen, gradientSeen, velocitySeen) = ([], [], []);
    }

    void UpdateBlocks(int worker, int start, int end)
    {
        int from = start * Block, to = Math.Min(end * Block, lengthSeen);
        SgdUpdate.Step(θSeen.AsSpan(from, to - from), gradientSeen.AsSpan(from, to - from), Momentum != 0 ? velocitySeen.AsSpan(from, to - from) : default,
                       LearningRate, Momentum, WeightDecay, Nesterov, firstSeen);
    }
}

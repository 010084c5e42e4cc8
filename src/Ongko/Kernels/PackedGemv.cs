using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ongko.Kernels;

/// <summary>
/// A fully connected layer on one input vector (batch-1 latency): y = activation(scale ⊙ (W · x) + shift), W packed once
/// (<see cref="PackWeights"/>) in groups of 64 outputs, [O/64][K][64], so the multiply is one sequential stream of
/// aligned vectors, each FMA'd with a broadcast x[k]: no horizontal sums, no per-call packing, and the outputs split
/// over workers by groups. <see cref="ForwardNaive"/> (unpacked weights, double sums) is the twin.
/// </summary>
public static unsafe class PackedGemv
{
    /// <summary>Outputs per group (the packed panel width).</summary>
    public const int Group = 64;

    /// <summary>Outputs rounded up to whole groups.</summary>
    public static int PaddedOutputs(int outputs) => (outputs + Group - 1) / Group * Group;

    /// <summary>
    /// W[O, K] (row-major, K = <paramref name="inFeatures"/>) into [O/64][K'][64], K' = <paramref name="columns"/>.Length:
    /// packed column j holds W's column columns[j], or zeros where columns[j] is -1 (an input the layer does not read,
    /// such as a padded channel); outputs past O are zero.
    /// </summary>
    public static void PackWeights(ReadOnlySpan<float> weight, int outFeatures, int inFeatures, ReadOnlySpan<int> columns, Span<float> packed)
    {
        int k = columns.Length, padded = PaddedOutputs(outFeatures);
        if (weight.Length < outFeatures * inFeatures || packed.Length < padded * k) throw new ArgumentException("packed GEMV: buffers too small");
        for (int o = 0; o < padded; o++)
            for (int j = 0; j < k; j++)
                packed[(o / Group * k + j) * Group + o % Group] = o < outFeatures && columns[j] >= 0 ? weight[o * inFeatures + columns[j]] : 0;
    }

    /// <summary>
    /// The twin: y[o] = activation(scale[o] · Σ_j W[o, columns[j]] · x[j] + shift[o]) for outputs o in [64·groupStart, 64·groupEnd)
    /// (past O: activation(shift[o])), in double.
    /// </summary>
    /// <param name="scale">[O padded]</param> <param name="shift">[O padded]</param>
    public static void ForwardNaive(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, int outFeatures, int inFeatures, ReadOnlySpan<int> columns,
        ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, Activation activation, int groupStart, int groupEnd, Span<float> y)
    {
        for (int o = groupStart * Group; o < groupEnd * Group; o++)
        {
            double sum = 0;
            if (o < outFeatures)
                for (int j = 0; j < columns.Length; j++)
                    if (columns[j] >= 0) sum += (double)weight[o * inFeatures + columns[j]] * x[j];
            float value = (float)(scale[o] * sum + shift[o]);
            y[o] = activation == Activation.ReLU && !(value > 0) ? 0 : value;
        }
    }

    /// <summary>The fast multiply (arguments as <see cref="ForwardNaive"/>, weights packed for K inputs) by the given kernel.</summary>
    public static void Forward(GemmKernel kernel, float* x, float* packed, int k, float* scale, float* shift, Activation activation,
        int groupStart, int groupEnd, float* y)
    {
        float floor = activation == Activation.ReLU ? 0f : float.NegativeInfinity;
        for (int g = groupStart; g < groupEnd; g++)
        {
            float* w = packed + (long)g * k * Group;
            int o = g * Group;
            if (kernel == GemmKernel.Avx512) Group512(x, w, k, scale + o, shift + o, floor, y + o);
            else if (kernel == GemmKernel.Avx2) Group256(x, w, k, scale + o, shift + o, floor, y + o);
            else GroupScalar(x, w, k, scale + o, shift + o, floor, y + o);
        }
    }

    /// <summary>64 outputs: even and odd inputs into two sets of 4 zmm accumulators (8 FMA chains), summed at the end.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Group512(float* x, float* w, int k, float* scale, float* shift, float floor, float* y)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        int j = 0;
        for (; j + 2 <= k; j += 2, w += 2 * Group)
        {
            var u = Vector512.Create(x[j]);
            a0 = Avx512F.FusedMultiplyAdd(u, Vector512.Load(w), a0); a1 = Avx512F.FusedMultiplyAdd(u, Vector512.Load(w + 16), a1);
            a2 = Avx512F.FusedMultiplyAdd(u, Vector512.Load(w + 32), a2); a3 = Avx512F.FusedMultiplyAdd(u, Vector512.Load(w + 48), a3);
            var v = Vector512.Create(x[j + 1]);
            b0 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(w + 64), b0); b1 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(w + 80), b1);
            b2 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(w + 96), b2); b3 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(w + 112), b3);
        }
        if (j < k)
        {
            var u = Vector512.Create(x[j]);
            a0 = Avx512F.FusedMultiplyAdd(u, Vector512.Load(w), a0); a1 = Avx512F.FusedMultiplyAdd(u, Vector512.Load(w + 16), a1);
            a2 = Avx512F.FusedMultiplyAdd(u, Vector512.Load(w + 32), a2); a3 = Avx512F.FusedMultiplyAdd(u, Vector512.Load(w + 48), a3);
        }
        var f = Vector512.Create(floor);
        Vector512.Max(Avx512F.FusedMultiplyAdd(a0 + b0, Vector512.Load(scale), Vector512.Load(shift)), f).Store(y);
        Vector512.Max(Avx512F.FusedMultiplyAdd(a1 + b1, Vector512.Load(scale + 16), Vector512.Load(shift + 16)), f).Store(y + 16);
        Vector512.Max(Avx512F.FusedMultiplyAdd(a2 + b2, Vector512.Load(scale + 32), Vector512.Load(shift + 32)), f).Store(y + 32);
        Vector512.Max(Avx512F.FusedMultiplyAdd(a3 + b3, Vector512.Load(scale + 48), Vector512.Load(shift + 48)), f).Store(y + 48);
    }

    /// <summary>64 outputs as 8 ymm accumulators (AVX2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Group256(float* x, float* w, int k, float* scale, float* shift, float floor, float* y)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int j = 0; j < k; j++, w += Group)
        {
            var u = Vector256.Create(x[j]);
            a0 = Fma.MultiplyAdd(u, Vector256.Load(w), a0); a1 = Fma.MultiplyAdd(u, Vector256.Load(w + 8), a1);
            a2 = Fma.MultiplyAdd(u, Vector256.Load(w + 16), a2); a3 = Fma.MultiplyAdd(u, Vector256.Load(w + 24), a3);
            a4 = Fma.MultiplyAdd(u, Vector256.Load(w + 32), a4); a5 = Fma.MultiplyAdd(u, Vector256.Load(w + 40), a5);
            a6 = Fma.MultiplyAdd(u, Vector256.Load(w + 48), a6); a7 = Fma.MultiplyAdd(u, Vector256.Load(w + 56), a7);
        }
        var f = Vector256.Create(floor);
        Vector256.Max(Fma.MultiplyAdd(a0, Vector256.Load(scale), Vector256.Load(shift)), f).Store(y);
        Vector256.Max(Fma.MultiplyAdd(a1, Vector256.Load(scale + 8), Vector256.Load(shift + 8)), f).Store(y + 8);
        Vector256.Max(Fma.MultiplyAdd(a2, Vector256.Load(scale + 16), Vector256.Load(shift + 16)), f).Store(y + 16);
        Vector256.Max(Fma.MultiplyAdd(a3, Vector256.Load(scale + 24), Vector256.Load(shift + 24)), f).Store(y + 24);
        Vector256.Max(Fma.MultiplyAdd(a4, Vector256.Load(scale + 32), Vector256.Load(shift + 32)), f).Store(y + 32);
        Vector256.Max(Fma.MultiplyAdd(a5, Vector256.Load(scale + 40), Vector256.Load(shift + 40)), f).Store(y + 40);
        Vector256.Max(Fma.MultiplyAdd(a6, Vector256.Load(scale + 48), Vector256.Load(shift + 48)), f).Store(y + 48);
        Vector256.Max(Fma.MultiplyAdd(a7, Vector256.Load(scale + 56), Vector256.Load(shift + 56)), f).Store(y + 56);
    }

    static void GroupScalar(float* x, float* w, int k, float* scale, float* shift, float floor, float* y)
    {
        float* sums = stackalloc float[Group];
        new Span<float>(sums, Group).Clear();
        for (int j = 0; j < k; j++, w += Group)
            for (int lane = 0; lane < Group; lane++) sums[lane] += x[j] * w[lane];
        for (int lane = 0; lane < Group; lane++) y[lane] = MathF.Max(sums[lane] * scale[lane] + shift[lane], floor);
    }
}

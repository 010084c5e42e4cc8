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

    /// <summary>
    /// <see cref="Forward"/> for <paramref name="rows"/> input vectors at once (rows <paramref name="ldx"/> apart, outputs <paramref name="ldy"/>
    /// apart): the AVX-512 kernel takes 8 rows x 32 outputs (half a group's panel: 16 zmm accumulators, 2 weight loads and 8 broadcasts
    /// per 16 FMAs, so the panel streams from L2 at 16 bytes per 8 cycles); leftover rows and the other kernels go row by row.
    /// (The 8-row kernel sums an output's inputs in one chain, the row kernel in two: both within rounding of the twin.)
    /// </summary>
    public static void ForwardRows(GemmKernel kernel, float* x, int rows, int ldx, float* packed, int k, float* scale, float* shift,
        Activation activation, int groupStart, int groupEnd, float* y, int ldy)
    {
        float floor = activation == Activation.ReLU ? 0f : float.NegativeInfinity;
        for (int g = groupStart; g < groupEnd; g++)
        {
            float* w = packed + (long)g * k * Group;
            int o = g * Group, r = 0;
            if (kernel == GemmKernel.Avx512)
                for (; r + 8 <= rows; r += 8)
                    for (int half = 0; half < Group; half += 32)
                        Rows8x32(x + (long)r * ldx, ldx, w + half, k, scale + o + half, shift + o + half, floor, y + (long)r * ldy + o + half, ldy);
            for (; r < rows; r++) Forward(kernel, x + (long)r * ldx, packed, k, scale, shift, activation, g, g + 1, y + (long)r * ldy);
        }
    }

    /// <summary>8 input rows x 32 outputs of a 64-wide panel (rows of the panel 64 floats apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows8x32(float* x, int ldx, float* w, int k, float* scale, float* shift, float floor, float* y, int ldy)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default,
                         c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        float* x0 = x, x1 = x + ldx, x2 = x + 2 * ldx, x3 = x + 3 * ldx, x4 = x + 4 * ldx, x5 = x + 5 * ldx, x6 = x + 6 * ldx, x7 = x + 7 * ldx;
        for (int j = 0; j < k; j++, w += Group)
        {
            var w0 = Vector512.Load(w); var w1 = Vector512.Load(w + 16);
            var a = Vector512.Create(x0[j]); c00 = Avx512F.FusedMultiplyAdd(a, w0, c00); c01 = Avx512F.FusedMultiplyAdd(a, w1, c01);
            a = Vector512.Create(x1[j]); c10 = Avx512F.FusedMultiplyAdd(a, w0, c10); c11 = Avx512F.FusedMultiplyAdd(a, w1, c11);
            a = Vector512.Create(x2[j]); c20 = Avx512F.FusedMultiplyAdd(a, w0, c20); c21 = Avx512F.FusedMultiplyAdd(a, w1, c21);
            a = Vector512.Create(x3[j]); c30 = Avx512F.FusedMultiplyAdd(a, w0, c30); c31 = Avx512F.FusedMultiplyAdd(a, w1, c31);
            a = Vector512.Create(x4[j]); c40 = Avx512F.FusedMultiplyAdd(a, w0, c40); c41 = Avx512F.FusedMultiplyAdd(a, w1, c41);
            a = Vector512.Create(x5[j]); c50 = Avx512F.FusedMultiplyAdd(a, w0, c50); c51 = Avx512F.FusedMultiplyAdd(a, w1, c51);
            a = Vector512.Create(x6[j]); c60 = Avx512F.FusedMultiplyAdd(a, w0, c60); c61 = Avx512F.FusedMultiplyAdd(a, w1, c61);
            a = Vector512.Create(x7[j]); c70 = Avx512F.FusedMultiplyAdd(a, w0, c70); c71 = Avx512F.FusedMultiplyAdd(a, w1, c71);
        }
        var f = Vector512.Create(floor);
        var s0 = Vector512.Load(scale); var s1 = Vector512.Load(scale + 16);
        var h0 = Vector512.Load(shift); var h1 = Vector512.Load(shift + 16);
        Store(y, c00, c01); Store(y + ldy, c10, c11); Store(y + 2 * ldy, c20, c21); Store(y + 3 * ldy, c30, c31);
        Store(y + 4 * ldy, c40, c41); Store(y + 5 * ldy, c50, c51); Store(y + 6 * ldy, c60, c61); Store(y + 7 * ldy, c70, c71);

        void Store(float* o, Vector512<float> v0, Vector512<float> v1)
        {
            Vector512.Max(Avx512F.FusedMultiplyAdd(v0, s0, h0), f).Store(o);
            Vector512.Max(Avx512F.FusedMultiplyAdd(v1, s1, h1), f).Store(o + 16);
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

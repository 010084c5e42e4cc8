using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ongko.Kernels;

/// <summary>
/// The 16 products in Winograd's domain for one group of tiles (<see cref="Winograd.Forward"/>, <see cref="WinogradBackward.WeightGradient"/>),
/// with AVX-512 register blocks that read U, V and δM where they lie (no packing per call, so a small group of tiles whose
/// V and M stay in cache costs no more per tile than a large one):
/// <list type="bullet">
/// <item>forward: M[ξ][OC, tiles] = U[ξ][OC, C] · V[ξ][C, tiles], 8 output channels x 48 tiles per block (24 zmm accumulators,
///   tiles in the lanes, U broadcast from its rows);</item>
/// <item>weight gradient: δU[ξ][OC, C] (+)= Σ_tiles δM[ξ][OC, tiles] · V[ξ][C, tiles]ᵀ: V[ξ] is transposed in 8x8 blocks into a
///   per-thread [tiles, C] buffer that stays in L1, then 4 output channels x 64 channels (or 8 x 32, 8 x 16) per block accumulate over
///   the tiles in registers (channels in the lanes, δM broadcast) and are added to δU once.</item>
/// </list>
/// Rows of V, M and δM are <c>rowLength</c> floats apart and hold at least 16 floats past the last tile (<see cref="Winograd.RowLength"/>):
/// the forward blocks compute whole vectors of tiles, the lanes past the last tile are garbage that nothing reads.
/// Other kernels (AVX2, scalar) or channel counts that are not multiples of 8 (output) or 16 (input, for the weight gradient) run
/// the 16 products as <see cref="Gemm.Multiply"/>s. The naive twins are right above the fast versions.
/// </summary>
public static unsafe class WinogradProducts
{
    /// <summary>M[ξ][oc, t] = Σ_c U[ξ][oc, c] · V[ξ][c, t] for t &lt; <paramref name="tiles"/>, in double.</summary>
    /// <param name="u">[16, OC, C]</param> <param name="v">[16, C, rowLength]</param> <param name="m">[16, OC, rowLength]</param>
    public static void ForwardNaive(ReadOnlySpan<float> u, ReadOnlySpan<float> v, int outChannels, int channels, int tiles, int rowLength, Span<float> m)
    {
        for (int ξ = 0; ξ < 16; ξ++)
            for (int oc = 0; oc < outChannels; oc++)
                for (int t = 0; t < tiles; t++)
                {
                    double sum = 0;
                    for (int c = 0; c < channels; c++)
                        sum += (double)u[(ξ * outChannels + oc) * channels + c] * v[(ξ * channels + c) * rowLength + t];
                    m[(ξ * outChannels + oc) * rowLength + t] = (float)sum;
                }
    }

    /// <summary>The fast <see cref="ForwardNaive"/>; M's lanes from <paramref name="tiles"/> up to the next multiple of 16 are garbage.</summary>
    public static void Forward(ReadOnlySpan<float> u, ReadOnlySpan<float> v, int outChannels, int channels, int tiles, int rowLength, Span<float> m)
    {
        int wholeVectors = (tiles + 15) / 16 * 16;
        if (u.Length < 16 * outChannels * channels || v.Length < (15 * channels + channels - 1) * rowLength + wholeVectors
            || m.Length < (15 * outChannels + outChannels - 1) * rowLength + wholeVectors || rowLength < wholeVectors)
            throw new ArgumentException("Winograd products: buffers too small for the sizes");
        if (!FastForward(outChannels))
        {
            for (int ξ = 0; ξ < 16; ξ++)
                Gemm.Multiply(false, false, outChannels, tiles, channels, u.Slice(ξ * outChannels * channels, outChannels * channels), channels,
                              v.Slice(ξ * channels * rowLength), rowLength, m.Slice(ξ * outChannels * rowLength), rowLength, accumulate: false);
            return;
        }
        // A last partial vector of a few tiles as dot products over the channels (a 16-tile block would compute 16 lanes for them).
        int rest = tiles % 16;
        bool narrow = rest > 0 && rest <= NarrowMaxTiles && channels % 16 == 0 && channels <= 1024;
        int blocked = narrow ? tiles - rest : wholeVectors;
        float* vt = stackalloc float[narrow ? 8 * channels : 0];   // the partial vector's V columns, transposed (no heap: evaluation allocates nothing)
        fixed (float* uStart = u, vStart = v, mStart = m)
            for (int ξ = 0; ξ < 16; ξ++)
            {
                float* uξ = uStart + (long)ξ * outChannels * channels, vξ = vStart + (long)ξ * channels * rowLength, mξ = mStart + (long)ξ * outChannels * rowLength;
                for (int oc = 0; oc < outChannels; oc += 8)
                {
                    int t = 0;
                    for (; t + 48 <= blocked; t += 48)
                        Block8x48(uξ + (long)oc * channels, channels, vξ + t, rowLength, mξ + (long)oc * rowLength + t);
                    for (; t < blocked; t += 16)
                        Block8x16(uξ + (long)oc * channels, channels, vξ + t, rowLength, channels, mξ + (long)oc * rowLength + t, rowLength, accumulate: false);
                }
                if (blocked < tiles)
                {
                    Transpose(vξ + blocked, rowLength, channels, 8, vt);   // vt[j, c] = V[ξ][c, blocked + j]
                    for (int oc = 0; oc < outChannels; oc += 4)
                        for (int j = 0; j < tiles - blocked; j += 2)
                            Dots4x2(uξ + (long)oc * channels, vt + j * channels, j + 1 < tiles - blocked ? vt + (j + 1) * channels : vt + j * channels,
                                    channels, mξ + (long)oc * rowLength + blocked + j, rowLength, j + 1 < tiles - blocked);
                }
            }
    }

    /// <summary>
    /// The most tiles a last partial vector may have for <see cref="Dots4x2"/>. Measured on a hot group (Winograd.Forward, thread CPU per
    /// image): 64→64 at 14x14 in groups of 2 images (2 tiles past 96) 38.2–38.7 → 35.5–36.7 µs, 64→32 20.4–21.0 → 19.8–20.4 µs; in groups
    /// of 6 (6 tiles past 288) no gain (36.2–36.9 vs 36.4–37.6 µs).
    /// </summary>
    const int NarrowMaxTiles = 4;

    /// <summary>
    /// M[4 rows, 2 tiles] = U[4 rows, C] · (a, b)ᵀ: dot products over the channels, 16 at a time, summed across the lanes at the end;
    /// the second tile is stored only with <paramref name="both"/>. Rows of U are <paramref name="channels"/> apart, of M <paramref name="rowLength"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dots4x2(float* u, float* a, float* b, int channels, float* m, int rowLength, bool both)
    {
        Vector512<float> s0a = default, s1a = default, s2a = default, s3a = default, s0b = default, s1b = default, s2b = default, s3b = default;
        float* u0 = u, u1 = u0 + channels, u2 = u1 + channels, u3 = u2 + channels;
        for (int c = 0; c < channels; c += 16)
        {
            var va = Vector512.Load(a + c);
            var vb = Vector512.Load(b + c);
            var w = Vector512.Load(u0 + c); s0a = Avx512F.FusedMultiplyAdd(w, va, s0a); s0b = Avx512F.FusedMultiplyAdd(w, vb, s0b);
            w = Vector512.Load(u1 + c); s1a = Avx512F.FusedMultiplyAdd(w, va, s1a); s1b = Avx512F.FusedMultiplyAdd(w, vb, s1b);
            w = Vector512.Load(u2 + c); s2a = Avx512F.FusedMultiplyAdd(w, va, s2a); s2b = Avx512F.FusedMultiplyAdd(w, vb, s2b);
            w = Vector512.Load(u3 + c); s3a = Avx512F.FusedMultiplyAdd(w, va, s3a); s3b = Avx512F.FusedMultiplyAdd(w, vb, s3b);
        }
        m[0] = Vector512.Sum(s0a); m[rowLength] = Vector512.Sum(s1a); m[2 * rowLength] = Vector512.Sum(s2a); m[3 * rowLength] = Vector512.Sum(s3a);
        if (!both) return;
        m[1] = Vector512.Sum(s0b); m[rowLength + 1] = Vector512.Sum(s1b); m[2 * rowLength + 1] = Vector512.Sum(s2b); m[3 * rowLength + 1] = Vector512.Sum(s3b);
    }

    /// <summary>True where <see cref="Forward"/> runs the AVX-512 blocks: the thread's GEMM kernel is AVX-512 and OC is a multiple of 8.</summary>
    static bool FastForward(int outChannels) => Gemm.Kernel == GemmKernel.Avx512 && outChannels % 8 == 0;

    /// <summary>M[8 rows, 48 tiles] = U[8 rows, C] · V[C, 48 tiles]: rows of U <paramref name="channels"/> apart, of V and M <paramref name="rowLength"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block8x48(float* u, int channels, float* v, int rowLength, float* m)
    {
        Vector512<float> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default,
                         c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default,
                         c40 = default, c41 = default, c42 = default, c50 = default, c51 = default, c52 = default,
                         c60 = default, c61 = default, c62 = default, c70 = default, c71 = default, c72 = default;
        float* u0 = u, u1 = u0 + channels, u2 = u1 + channels, u3 = u2 + channels, u4 = u3 + channels, u5 = u4 + channels, u6 = u5 + channels, u7 = u6 + channels;
        for (int c = 0; c < channels; c++)
        {
            var b0 = Vector512.Load(v);
            var b1 = Vector512.Load(v + 16);
            var b2 = Vector512.Load(v + 32);
            { var a = Vector512.Create(u0[c]); c00 = Avx512F.FusedMultiplyAdd(a, b0, c00); c01 = Avx512F.FusedMultiplyAdd(a, b1, c01); c02 = Avx512F.FusedMultiplyAdd(a, b2, c02); }
            { var a = Vector512.Create(u1[c]); c10 = Avx512F.FusedMultiplyAdd(a, b0, c10); c11 = Avx512F.FusedMultiplyAdd(a, b1, c11); c12 = Avx512F.FusedMultiplyAdd(a, b2, c12); }
            { var a = Vector512.Create(u2[c]); c20 = Avx512F.FusedMultiplyAdd(a, b0, c20); c21 = Avx512F.FusedMultiplyAdd(a, b1, c21); c22 = Avx512F.FusedMultiplyAdd(a, b2, c22); }
            { var a = Vector512.Create(u3[c]); c30 = Avx512F.FusedMultiplyAdd(a, b0, c30); c31 = Avx512F.FusedMultiplyAdd(a, b1, c31); c32 = Avx512F.FusedMultiplyAdd(a, b2, c32); }
            { var a = Vector512.Create(u4[c]); c40 = Avx512F.FusedMultiplyAdd(a, b0, c40); c41 = Avx512F.FusedMultiplyAdd(a, b1, c41); c42 = Avx512F.FusedMultiplyAdd(a, b2, c42); }
            { var a = Vector512.Create(u5[c]); c50 = Avx512F.FusedMultiplyAdd(a, b0, c50); c51 = Avx512F.FusedMultiplyAdd(a, b1, c51); c52 = Avx512F.FusedMultiplyAdd(a, b2, c52); }
            { var a = Vector512.Create(u6[c]); c60 = Avx512F.FusedMultiplyAdd(a, b0, c60); c61 = Avx512F.FusedMultiplyAdd(a, b1, c61); c62 = Avx512F.FusedMultiplyAdd(a, b2, c62); }
            { var a = Vector512.Create(u7[c]); c70 = Avx512F.FusedMultiplyAdd(a, b0, c70); c71 = Avx512F.FusedMultiplyAdd(a, b1, c71); c72 = Avx512F.FusedMultiplyAdd(a, b2, c72); }
            v += rowLength;
        }
        Store3(m, c00, c01, c02); m += rowLength;
        Store3(m, c10, c11, c12); m += rowLength;
        Store3(m, c20, c21, c22); m += rowLength;
        Store3(m, c30, c31, c32); m += rowLength;
        Store3(m, c40, c41, c42); m += rowLength;
        Store3(m, c50, c51, c52); m += rowLength;
        Store3(m, c60, c61, c62); m += rowLength;
        Store3(m, c70, c71, c72);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store3(float* m, Vector512<float> c0, Vector512<float> c1, Vector512<float> c2)
    {
        c0.Store(m);
        c1.Store(m + 16);
        c2.Store(m + 32);
    }

    /// <summary>δU[ξ][oc, c] (+)= Σ_{t &lt; tiles} δM[ξ][oc, t] · V[ξ][c, t], in double.</summary>
    /// <param name="δm">[16, OC, rowLength]</param> <param name="v">[16, C, rowLength]</param> <param name="δu">[16, OC, C]</param>
    public static void WeightGradientNaive(ReadOnlySpan<float> δm, ReadOnlySpan<float> v, int outChannels, int channels, int tiles, int rowLength,
        Span<float> δu, bool accumulate)
    {
        for (int ξ = 0; ξ < 16; ξ++)
            for (int oc = 0; oc < outChannels; oc++)
                for (int c = 0; c < channels; c++)
                {
                    double sum = accumulate ? δu[(ξ * outChannels + oc) * channels + c] : 0;
                    for (int t = 0; t < tiles; t++)
                        sum += (double)δm[(ξ * outChannels + oc) * rowLength + t] * v[(ξ * channels + c) * rowLength + t];
                    δu[(ξ * outChannels + oc) * channels + c] = (float)sum;
                }
    }

    [ThreadStatic] static float[]? transposed;   // V[ξ] as [tiles rounded up to 8, C], one per thread (grows, pinned)

    /// <summary>The fast <see cref="WeightGradientNaive"/> (δM and V are read for t &lt; <paramref name="tiles"/> only, up to 7 lanes more when transposing).</summary>
    public static void WeightGradient(ReadOnlySpan<float> δm, ReadOnlySpan<float> v, int outChannels, int channels, int tiles, int rowLength,
        Span<float> δu, bool accumulate)
    {
        int wholeBlocks = (tiles + 7) / 8 * 8;
        if (δu.Length < 16 * outChannels * channels || v.Length < (15 * channels + channels - 1) * rowLength + wholeBlocks
            || δm.Length < (15 * outChannels + outChannels - 1) * rowLength + tiles || rowLength < wholeBlocks)
            throw new ArgumentException("Winograd weight-gradient products: buffers too small for the sizes");
        if (!FastWeightGradient(outChannels, channels))
        {
            for (int ξ = 0; ξ < 16; ξ++)
                Gemm.Multiply(false, true, outChannels, channels, tiles, δm.Slice(ξ * outChannels * rowLength), rowLength,
                              v.Slice(ξ * channels * rowLength), rowLength, δu.Slice(ξ * outChannels * channels, outChannels * channels), channels, accumulate);
            return;
        }
        if (transposed is null || transposed.Length < wholeBlocks * channels)
            transposed = GC.AllocateUninitializedArray<float>(wholeBlocks * channels, pinned: true);
        fixed (float* δmStart = δm, vStart = v, δuStart = δu, vt = transposed)
            for (int ξ = 0; ξ < 16; ξ++)
            {
                Transpose(vStart + (long)ξ * channels * rowLength, rowLength, channels, wholeBlocks, vt);
                float* δmξ = δmStart + (long)ξ * outChannels * rowLength, δuξ = δuStart + (long)ξ * outChannels * channels;
                int c = 0;
                for (; c + 64 <= channels; c += 64)
                    for (int oc = 0; oc < outChannels; oc += 4)
                        Gradient4x64(δmξ + (long)oc * rowLength, rowLength, vt + c, channels, tiles, δuξ + (long)oc * channels + c, accumulate);
                for (; c + 32 <= channels; c += 32)
                    for (int oc = 0; oc < outChannels; oc += 8)
                        Gradient8x32(δmξ + (long)oc * rowLength, rowLength, vt + c, channels, tiles, δuξ + (long)oc * channels + c, accumulate);
                for (; c < channels; c += 16)
                    for (int oc = 0; oc < outChannels; oc += 8)
                        Block8x16(δmξ + (long)oc * rowLength, rowLength, vt + c, channels, tiles, δuξ + (long)oc * channels + c, channels, accumulate);
            }
    }

    /// <summary>True where <see cref="WeightGradient"/> runs the AVX-512 blocks: the thread's GEMM kernel is AVX-512, OC a multiple of 8 and C of 16.</summary>
    public static bool FastWeightGradient(int outChannels, int channels) =>
        Gemm.Kernel == GemmKernel.Avx512 && outChannels % 8 == 0 && channels % 16 == 0;

    /// <summary>vt[t, r] = v[r, t] for <paramref name="rows"/> rows (a multiple of 8) and <paramref name="columns"/> columns (a multiple of 8), in 8x8 blocks.</summary>
    static void Transpose(float* v, int rowLength, int rows, int columns, float* vt)
    {
        for (int r = 0; r < rows; r += 8)
            for (int t = 0; t < columns; t += 8)
            {
                float* s = v + (long)r * rowLength + t;
                var r0 = Avx.LoadVector256(s); var r1 = Avx.LoadVector256(s + rowLength);
                var r2 = Avx.LoadVector256(s + 2 * rowLength); var r3 = Avx.LoadVector256(s + 3 * rowLength);
                var r4 = Avx.LoadVector256(s + 4 * rowLength); var r5 = Avx.LoadVector256(s + 5 * rowLength);
                var r6 = Avx.LoadVector256(s + 6 * rowLength); var r7 = Avx.LoadVector256(s + 7 * rowLength);
                var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
                var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
                var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
                var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
                var s0 = Avx.Shuffle(t0, t2, 0x44); var s1 = Avx.Shuffle(t0, t2, 0xEE);
                var s2 = Avx.Shuffle(t1, t3, 0x44); var s3 = Avx.Shuffle(t1, t3, 0xEE);
                var s4 = Avx.Shuffle(t4, t6, 0x44); var s5 = Avx.Shuffle(t4, t6, 0xEE);
                var s6 = Avx.Shuffle(t5, t7, 0x44); var s7 = Avx.Shuffle(t5, t7, 0xEE);
                float* d = vt + (long)t * rows + r;
                Avx.Store(d, Avx.Permute2x128(s0, s4, 0x20));
                Avx.Store(d + rows, Avx.Permute2x128(s1, s5, 0x20));
                Avx.Store(d + 2 * rows, Avx.Permute2x128(s2, s6, 0x20));
                Avx.Store(d + 3 * rows, Avx.Permute2x128(s3, s7, 0x20));
                Avx.Store(d + 4 * rows, Avx.Permute2x128(s0, s4, 0x31));
                Avx.Store(d + 5 * rows, Avx.Permute2x128(s1, s5, 0x31));
                Avx.Store(d + 6 * rows, Avx.Permute2x128(s2, s6, 0x31));
                Avx.Store(d + 7 * rows, Avx.Permute2x128(s3, s7, 0x31));
            }
    }

    /// <summary>δU[4 rows, 64 channels] (+)= Σ_t δM[4 rows, t] · Vᵀ[t, 64 channels]: δM rows <paramref name="rowLength"/> apart, Vᵀ and δU rows <paramref name="channels"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Gradient4x64(float* δm, int rowLength, float* vt, int channels, int tiles, float* δu, bool accumulate)
    {
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default,
                         c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
        float* m0 = δm, m1 = m0 + rowLength, m2 = m1 + rowLength, m3 = m2 + rowLength;
        for (int t = 0; t < tiles; t++)
        {
            var b0 = Vector512.Load(vt);
            var b1 = Vector512.Load(vt + 16);
            var b2 = Vector512.Load(vt + 32);
            var b3 = Vector512.Load(vt + 48);
            { var a = Vector512.Create(m0[t]); c00 = Avx512F.FusedMultiplyAdd(a, b0, c00); c01 = Avx512F.FusedMultiplyAdd(a, b1, c01); c02 = Avx512F.FusedMultiplyAdd(a, b2, c02); c03 = Avx512F.FusedMultiplyAdd(a, b3, c03); }
            { var a = Vector512.Create(m1[t]); c10 = Avx512F.FusedMultiplyAdd(a, b0, c10); c11 = Avx512F.FusedMultiplyAdd(a, b1, c11); c12 = Avx512F.FusedMultiplyAdd(a, b2, c12); c13 = Avx512F.FusedMultiplyAdd(a, b3, c13); }
            { var a = Vector512.Create(m2[t]); c20 = Avx512F.FusedMultiplyAdd(a, b0, c20); c21 = Avx512F.FusedMultiplyAdd(a, b1, c21); c22 = Avx512F.FusedMultiplyAdd(a, b2, c22); c23 = Avx512F.FusedMultiplyAdd(a, b3, c23); }
            { var a = Vector512.Create(m3[t]); c30 = Avx512F.FusedMultiplyAdd(a, b0, c30); c31 = Avx512F.FusedMultiplyAdd(a, b1, c31); c32 = Avx512F.FusedMultiplyAdd(a, b2, c32); c33 = Avx512F.FusedMultiplyAdd(a, b3, c33); }
            vt += channels;
        }
        Put(δu, c00, accumulate); Put(δu + 16, c01, accumulate); Put(δu + 32, c02, accumulate); Put(δu + 48, c03, accumulate); δu += channels;
        Put(δu, c10, accumulate); Put(δu + 16, c11, accumulate); Put(δu + 32, c12, accumulate); Put(δu + 48, c13, accumulate); δu += channels;
        Put(δu, c20, accumulate); Put(δu + 16, c21, accumulate); Put(δu + 32, c22, accumulate); Put(δu + 48, c23, accumulate); δu += channels;
        Put(δu, c30, accumulate); Put(δu + 16, c31, accumulate); Put(δu + 32, c32, accumulate); Put(δu + 48, c33, accumulate);
    }

    /// <summary>δU[8 rows, 32 channels] (+)= Σ_t δM[8 rows, t] · Vᵀ[t, 32 channels].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Gradient8x32(float* δm, int rowLength, float* vt, int channels, int tiles, float* δu, bool accumulate)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default,
                         c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        float* m0 = δm, m1 = m0 + rowLength, m2 = m1 + rowLength, m3 = m2 + rowLength, m4 = m3 + rowLength, m5 = m4 + rowLength, m6 = m5 + rowLength, m7 = m6 + rowLength;
        for (int t = 0; t < tiles; t++)
        {
            var b0 = Vector512.Load(vt);
            var b1 = Vector512.Load(vt + 16);
            { var a = Vector512.Create(m0[t]); c00 = Avx512F.FusedMultiplyAdd(a, b0, c00); c01 = Avx512F.FusedMultiplyAdd(a, b1, c01); }
            { var a = Vector512.Create(m1[t]); c10 = Avx512F.FusedMultiplyAdd(a, b0, c10); c11 = Avx512F.FusedMultiplyAdd(a, b1, c11); }
            { var a = Vector512.Create(m2[t]); c20 = Avx512F.FusedMultiplyAdd(a, b0, c20); c21 = Avx512F.FusedMultiplyAdd(a, b1, c21); }
            { var a = Vector512.Create(m3[t]); c30 = Avx512F.FusedMultiplyAdd(a, b0, c30); c31 = Avx512F.FusedMultiplyAdd(a, b1, c31); }
            { var a = Vector512.Create(m4[t]); c40 = Avx512F.FusedMultiplyAdd(a, b0, c40); c41 = Avx512F.FusedMultiplyAdd(a, b1, c41); }
            { var a = Vector512.Create(m5[t]); c50 = Avx512F.FusedMultiplyAdd(a, b0, c50); c51 = Avx512F.FusedMultiplyAdd(a, b1, c51); }
            { var a = Vector512.Create(m6[t]); c60 = Avx512F.FusedMultiplyAdd(a, b0, c60); c61 = Avx512F.FusedMultiplyAdd(a, b1, c61); }
            { var a = Vector512.Create(m7[t]); c70 = Avx512F.FusedMultiplyAdd(a, b0, c70); c71 = Avx512F.FusedMultiplyAdd(a, b1, c71); }
            vt += channels;
        }
        Put(δu, c00, accumulate); Put(δu + 16, c01, accumulate); δu += channels;
        Put(δu, c10, accumulate); Put(δu + 16, c11, accumulate); δu += channels;
        Put(δu, c20, accumulate); Put(δu + 16, c21, accumulate); δu += channels;
        Put(δu, c30, accumulate); Put(δu + 16, c31, accumulate); δu += channels;
        Put(δu, c40, accumulate); Put(δu + 16, c41, accumulate); δu += channels;
        Put(δu, c50, accumulate); Put(δu + 16, c51, accumulate); δu += channels;
        Put(δu, c60, accumulate); Put(δu + 16, c61, accumulate); δu += channels;
        Put(δu, c70, accumulate); Put(δu + 16, c71, accumulate);
    }

    /// <summary>
    /// C[8 rows, 16 lanes] (+)= Σ_k A[8 rows, k] · B[k, 16 lanes], A's rows <paramref name="aRow"/> floats apart, B's rows
    /// <paramref name="bRow"/>, C's <paramref name="cRow"/>. Forward: M[8 rows, 16 tiles] = U[8 rows, C] · V[C, 16 tiles] (the last
    /// vectors of a row of tiles); weight gradient: δU[8 rows, 16 channels] (+)= Σ_t δM[8 rows, t] · Vᵀ[t, 16 channels].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block8x16(float* a, int aRow, float* b, int bRow, int count, float* c, int cRow, bool accumulate)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        float* a0 = a, a1 = a0 + aRow, a2 = a1 + aRow, a3 = a2 + aRow, a4 = a3 + aRow, a5 = a4 + aRow, a6 = a5 + aRow, a7 = a6 + aRow;
        for (int k = 0; k < count; k++)
        {
            var bk = Vector512.Load(b);
            c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a0[k]), bk, c0);
            c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a1[k]), bk, c1);
            c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(a2[k]), bk, c2);
            c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(a3[k]), bk, c3);
            c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(a4[k]), bk, c4);
            c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(a5[k]), bk, c5);
            c6 = Avx512F.FusedMultiplyAdd(Vector512.Create(a6[k]), bk, c6);
            c7 = Avx512F.FusedMultiplyAdd(Vector512.Create(a7[k]), bk, c7);
            b += bRow;
        }
        Put(c, c0, accumulate); c += cRow; Put(c, c1, accumulate); c += cRow;
        Put(c, c2, accumulate); c += cRow; Put(c, c3, accumulate); c += cRow;
        Put(c, c4, accumulate); c += cRow; Put(c, c5, accumulate); c += cRow;
        Put(c, c6, accumulate); c += cRow; Put(c, c7, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Put(float* at, Vector512<float> value, bool accumulate)
    {
        if (accumulate) value += Vector512.Load(at);
        value.Store(at);
    }
}

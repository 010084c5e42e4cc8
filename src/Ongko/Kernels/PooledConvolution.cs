using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ongko.Kernels;

/// <summary>
/// Training's first layer when a 2x2 stride-2 max pooling follows it: a stride-1 convolution with few input channels (model3's
/// 3→16 at 48x48), its activation and the pooling as one pass, and the backward pass from δ of the pooled output straight to the
/// weight and bias gradients. Neither the unpooled output nor its δ is ever stored for the batch: the forward pass keeps the
/// pooled output and one byte per pooled value (which of the window's four inputs won, row-major 0-3, or
/// <see cref="NoGradient"/> where the ReLU passes no gradient); the backward pass rebuilds δ of the unpooled output for a band
/// of rows at a time in a small buffer (in cache) and runs a register-blocked direct weight gradient over it.
/// Layout: the image goes into zero-bordered planes (the padding) whose rows are read as vectors of 16 (AVX-512) or 8 (AVX2)
/// output columns. <see cref="ForwardNaive"/> and <see cref="BackwardNaive"/> are the twins (direct loops, double sums).
/// </summary>
public static unsafe class PooledConvolution
{
    /// <summary>The code of a pooled value whose gradient goes nowhere (its ReLU output is not positive).</summary>
    public const byte NoGradient = 4;

    /// <summary>The most input channels: more make a GEMM (or Winograd) the better choice.</summary>
    public const int MaxChannels = 4;

    /// <summary>Stride 1, at most <see cref="MaxChannels"/> input channels, kernel ≤ 7, and at least one pooled value.</summary>
    public static bool Supports(in ConvGeometry g) => g.Stride == 1 && g.Channels <= MaxChannels && g.Kernel <= 7 && g.OutputHeight >= 2 && g.OutputWidth >= 2;

    /// <summary>The kernel run for <paramref name="kernel"/> (the AVX-512 path also needs AVX-512BW; without it the AVX2 path runs); checks the geometry.</summary>
    static GemmKernel Usable(GemmKernel kernel, in ConvGeometry g)
    {
        if (!Supports(g)) throw new ArgumentException($"pooled convolution: needs stride 1, at most {MaxChannels} input channels, kernel <= 7 and a 2x2 output");
        if (kernel == GemmKernel.Avx512 && !Avx512F.IsSupported || kernel == GemmKernel.Avx2 && !(Avx2.IsSupported && Fma.IsSupported))
            throw new PlatformNotSupportedException($"pooled convolution: kernel {kernel} needs instructions this CPU lacks");
        return kernel == GemmKernel.Avx512 && !Avx512BW.VL.IsSupported ? GemmKernel.Avx2 : kernel;
    }

    /// <summary>Pooled rows per band of the backward pass: 2·B rows of δ for every output channel stay in L1.</summary>
    const int BandRows = 4;

    static int Chunks(in ConvGeometry g) => (g.OutputWidth / 2 * 2 + 15) / 16;   // 16-column vectors covering the pooled columns
    static int RowLength(in ConvGeometry g) => (Chunks(g) + 1) / 2 * 32;         // a row of the tile scratch or of δ: whole 32-column steps
    static int KernelRounded(int k) => (k + 2) / 3 * 3;                          // kernel columns in blocks of 3 (the weight gradient's tile)
    static int PaddedRows(in ConvGeometry g) => g.Height + 2 * g.Padding;
    static int PaddedWidth(in ConvGeometry g) => RowLength(g) + 32;   // whole cache lines, with room for the kernel's columns
    static int RoundedChannels(int outChannels) => (outChannels + 7) / 8 * 8;

    // The work buffers' sizes: what the kernels use, from their first 64-byte boundary on (Align), so rows start on cache lines.
    static int PaddedUsed(in ConvGeometry g) => g.Channels * PaddedRows(g) * PaddedWidth(g);
    static int BandUsed(in ConvGeometry g, int outChannels) => RoundedChannels(outChannels) * 2 * BandRows * RowLength(g);
    static int AccumulatorsUsed(in ConvGeometry g, int outChannels) => RoundedChannels(outChannels) * g.Channels * g.Kernel * KernelRounded(g.Kernel) * 16;
    static float* Align(float* p) => (float*)(((nint)p + 63) & ~(nint)63);

    /// <summary>Floats of the zero-bordered copy of one image (work buffer of both passes).</summary>
    public static int PaddedImageSize(in ConvGeometry g) => PaddedUsed(g) + 16;

    /// <summary>Floats of the backward pass's band of δ (work buffer).</summary>
    public static int BandSize(in ConvGeometry g, int outChannels) => BandUsed(g, outChannels) + 16;

    /// <summary>Floats of the backward pass's vector accumulators (work buffer).</summary>
    public static int AccumulatorSize(in ConvGeometry g, int outChannels) => AccumulatorsUsed(g, outChannels) + 16;

    /// <summary>
    /// The twin of <see cref="Forward"/>: z = W ∗ x + b by direct loops in double, y = activation(z) (a NaN stays), and per 2x2 window
    /// the first maximum in row-major order (a later input wins when greater, or NaN, as MaxPool2D), its position as the code, or
    /// <see cref="NoGradient"/> when the activation is ReLU and the maximum is not positive.
    /// </summary>
    /// <param name="x">[count, C, H, W]</param> <param name="weight">[OC, C, k, k]</param>
    /// <param name="scale">[OC] or empty (1): a folded batch normalisation's scale, applied before the activation and the pooling</param>
    /// <param name="bias">[OC] or empty: the bias, or a folded batch normalisation's shift</param>
    /// <param name="pooled">[count, OC, OH/2, OW/2]</param> <param name="codes">[count, OC, OH/2, OW/2]</param>
    public static void ForwardNaive(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, int count,
        int outChannels, in ConvGeometry g, Activation activation, Span<float> pooled, Span<byte> codes)
    {
        int pooledHeight = g.OutputHeight / 2, pooledWidth = g.OutputWidth / 2, k = g.Kernel;
        for (int n = 0; n < count; n++)
            for (int oc = 0; oc < outChannels; oc++)
                for (int py = 0; py < pooledHeight; py++)
                    for (int px = 0; px < pooledWidth; px++)
                    {
                        float best = 0;
                        int winner = -1;
                        for (int position = 0; position < 4; position++)
                        {
                            int oy = 2 * py + position / 2, ox = 2 * px + position % 2;
                            double sum = 0;
                            for (int c = 0; c < g.Channels; c++)
                                for (int ky = 0; ky < k; ky++)
                                    for (int kx = 0; kx < k; kx++)
                                    {
                                        int iy = oy + ky - g.Padding, ix = ox + kx - g.Padding;
                                        if (iy >= 0 && iy < g.Height && ix >= 0 && ix < g.Width)
                                            sum += (double)weight[((oc * g.Channels + c) * k + ky) * k + kx] * x[((n * g.Channels + c) * g.Height + iy) * g.Width + ix];
                                    }
                            float value = (float)((scale.IsEmpty ? 1 : scale[oc]) * sum + (bias.IsEmpty ? 0 : bias[oc]));
                            if (activation == Activation.ReLU && !(value > 0) && !float.IsNaN(value)) value = 0;
                            if (winner < 0 || value > best || float.IsNaN(value)) (best, winner) = (value, position);
                        }
                        int at = ((n * outChannels + oc) * pooledHeight + py) * pooledWidth + px;
                        pooled[at] = best;
                        codes[at] = activation == Activation.ReLU && !(best > 0) ? NoGradient : (byte)winner;
                    }
    }

    /// <summary>
    /// The twin of <see cref="Backward"/>: each pooled δ whose code is not <see cref="NoGradient"/> is δ of the conv output at its
    /// window position; δW[oc, c, ky, kx] += Σ δ·x at that position's tap, δb[oc] += Σ δ, in double.
    /// </summary>
    public static void BackwardNaive(ReadOnlySpan<float> δpooled, ReadOnlySpan<byte> codes, ReadOnlySpan<float> x, int count, int outChannels,
        in ConvGeometry g, Span<double> δweight, Span<double> δbias)
    {
        int pooledHeight = g.OutputHeight / 2, pooledWidth = g.OutputWidth / 2, k = g.Kernel;
        for (int n = 0; n < count; n++)
            for (int oc = 0; oc < outChannels; oc++)
                for (int py = 0; py < pooledHeight; py++)
                    for (int px = 0; px < pooledWidth; px++)
                    {
                        int at = ((n * outChannels + oc) * pooledHeight + py) * pooledWidth + px;
                        if (codes[at] >= NoGradient) continue;
                        double δ = δpooled[at];
                        int oy = 2 * py + codes[at] / 2, ox = 2 * px + codes[at] % 2;
                        if (!δbias.IsEmpty) δbias[oc] += δ;
                        for (int c = 0; c < g.Channels; c++)
                            for (int ky = 0; ky < k; ky++)
                                for (int kx = 0; kx < k; kx++)
                                {
                                    int iy = oy + ky - g.Padding, ix = ox + kx - g.Padding;
                                    if (iy >= 0 && iy < g.Height && ix >= 0 && ix < g.Width)
                                        δweight[((oc * g.Channels + c) * k + ky) * k + kx] += δ * x[((n * g.Channels + c) * g.Height + iy) * g.Width + ix];
                                }
                    }
    }

    /// <summary>
    /// The twin of <see cref="PatchMoments"/>: over the output pixels p of <paramref name="count"/> images (all of them, pooled or not) and the
    /// zero-padded patches X[p, t] (t = (c, ky, kx)), G[t', t] += Σ X[p, t']·X[p, t] and S[t] += Σ X[p, t], in double. A convolution without a bias
    /// has y = X·w per channel, so Σ y = w·S and Σ y² = wᵀ·G·w: a batch normalisation's statistics without computing y.
    /// </summary>
    /// <param name="x">[count, C, H, W]</param> <param name="gram">[T, T] (T = C·k·k), added to</param> <param name="sums">[T], added to</param>
    public static void PatchMomentsNaive(ReadOnlySpan<float> x, int count, in ConvGeometry g, Span<double> gram, Span<double> sums)
    {
        int k = g.Kernel, taps = g.PatchSize;
        Span<double> patch = stackalloc double[taps];
        for (int n = 0; n < count; n++)
            for (int oy = 0; oy < g.OutputHeight; oy++)
                for (int ox = 0; ox < g.OutputWidth; ox++)
                {
                    for (int c = 0, t = 0; c < g.Channels; c++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++, t++)
                            {
                                int iy = oy + ky - g.Padding, ix = ox + kx - g.Padding;
                                patch[t] = iy >= 0 && iy < g.Height && ix >= 0 && ix < g.Width ? x[((n * g.Channels + c) * g.Height + iy) * g.Width + ix] : 0;
                            }
                    for (int a = 0; a < taps; a++)
                    {
                        sums[a] += patch[a];
                        for (int b = 0; b < taps; b++) gram[a * taps + b] += patch[a] * patch[b];
                    }
                }
    }

    /// <summary>
    /// <see cref="PatchMomentsNaive"/> by AVX-512 (16 output columns a step, per image in float lanes, then into the double sums) or, with
    /// another kernel, the twin itself.
    /// </summary>
    /// <param name="padded">work: <see cref="PaddedImageSize"/></param> <param name="work">work: <see cref="MomentWorkSize"/></param>
    public static void PatchMoments(GemmKernel kernel, ReadOnlySpan<float> x, int count, in ConvGeometry g, Span<float> padded, Span<float> work,
        Span<double> gram, Span<double> sums)
    {
        int taps = g.PatchSize, k = g.Kernel;
        if (x.Length < count * g.Channels * g.InputPixels || gram.Length < taps * taps || sums.Length < taps) throw new ArgumentException("patch moments: buffers too small");
        if (Usable(kernel, g) != GemmKernel.Avx512)
        {
            PatchMomentsNaive(x, count, g, gram, sums);
            return;
        }
        if (padded.Length < PaddedImageSize(g) || work.Length < MomentWorkSize(g)) throw new ArgumentException("patch moments: work buffers too small");
        int rows = PaddedRows(g), width = PaddedWidth(g), chunks = (g.OutputWidth + 15) / 16;
        padded[..PaddedImageSize(g)].Clear();
        var lanes = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        fixed (float* paddedBuffer = padded, workBuffer = work)
        {
            float* paddedStart = Align(paddedBuffer), patch = Align(workBuffer), products = patch + taps * 16, totals = products + taps * taps * 16;
            int* offsets = stackalloc int[taps];
            for (int c = 0, t = 0; c < g.Channels; c++)
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++, t++) offsets[t] = (c * rows + ky) * width + kx;
            for (int n = 0; n < count; n++)
            {
                CopyPadded(x, n, g, paddedStart);
                new Span<float>(products, (taps * taps + taps) * 16).Clear();
                for (int oy = 0; oy < g.OutputHeight; oy++)
                    for (int j = 0; j < chunks; j++)
                    {
                        // The patch values of 16 output pixels (lanes past the row zeroed), then every product pair's lanes.
                        var valid = Vector512.LessThan(lanes, Vector512.Create(g.OutputWidth - 16 * j)).AsSingle();
                        float* origin = paddedStart + oy * width + 16 * j;
                        for (int t = 0; t < taps; t++)
                        {
                            var v = Vector512.ConditionalSelect(valid, Vector512.Load(origin + offsets[t]), Vector512<float>.Zero);
                            v.Store(patch + t * 16);
                            (Vector512.Load(totals + t * 16) + v).Store(totals + t * 16);
                        }
                        for (int a = 0; a < taps; a++)
                        {
                            var va = Vector512.Load(patch + a * 16);
                            float* row = products + a * taps * 16;
                            for (int b = a; b < taps; b++)
                                Avx512F.FusedMultiplyAdd(va, Vector512.Load(patch + b * 16), Vector512.Load(row + b * 16)).Store(row + b * 16);
                        }
                    }
                for (int a = 0; a < taps; a++)
                {
                    sums[a] += Vector512.Sum(Vector512.Load(totals + a * 16));
                    for (int b = a; b < taps; b++)
                    {
                        double value = Vector512.Sum(Vector512.Load(products + (a * taps + b) * 16));
                        gram[a * taps + b] += value;
                        if (b != a) gram[b * taps + a] += value;
                    }
                }
            }
        }
    }

    /// <summary>Floats of <see cref="PatchMoments"/>' work buffer.</summary>
    public static int MomentWorkSize(in ConvGeometry g) => (g.PatchSize * g.PatchSize + 2 * g.PatchSize) * 16 + 16;

    /// <summary>Copies image <paramref name="n"/> into the interior of the zero-bordered planes (the border was cleared once per call).</summary>
    static void CopyPadded(ReadOnlySpan<float> x, int n, in ConvGeometry g, float* padded)
    {
        int rows = PaddedRows(g), width = PaddedWidth(g);
        for (int c = 0; c < g.Channels; c++)
            for (int row = 0; row < g.Height; row++)
                x.Slice(((n * g.Channels + c) * g.Height + row) * g.Width, g.Width)
                 .CopyTo(new Span<float>(padded + (c * rows + row + g.Padding) * width + g.Padding, g.Width));
    }

    /// <summary>
    /// Training forward: pooled = maxpool2x2(activation(W ∗ x + b)) and the winners' codes (see <see cref="ForwardNaive"/>) by the given
    /// kernel: per pooled row and block of 4 output channels, a tile of 2 conv rows x 48 columns (AVX-512: 24 accumulators) goes to a small
    /// scratch and is pooled from there.
    /// </summary>
    /// <param name="x">[count, C, H, W]</param> <param name="weight">[OC, C, k, k]</param>
    /// <param name="scale">[OC] or empty: applied before the pooling (a negative one turns the window's maximum into its minimum); without
    /// it the bias is added after the pooling (max(z) + b = max(z + b))</param>
    /// <param name="bias">[OC] or empty (the bias, or a folded batch normalisation's shift)</param>
    /// <param name="padded">work: <see cref="PaddedImageSize"/> floats</param>
    /// <param name="pooled">[count, OC, OH/2, OW/2]</param> <param name="codes">[count, OC, OH/2, OW/2]</param>
    public static void Forward(GemmKernel kernel, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> scale, ReadOnlySpan<float> bias,
        int count, int outChannels, in ConvGeometry g, Activation activation, Span<float> padded, Span<float> pooled, Span<byte> codes)
    {
        kernel = Usable(kernel, g);
        int k = g.Kernel, patch = g.PatchSize, pooledHeight = g.OutputHeight / 2, pooledWidth = g.OutputWidth / 2, pooledPixels = pooledHeight * pooledWidth;
        if (x.Length < count * g.Channels * g.InputPixels || weight.Length < outChannels * patch || (!bias.IsEmpty && bias.Length < outChannels)
            || (!scale.IsEmpty && scale.Length < outChannels)
            || padded.Length < PaddedImageSize(g) || pooled.Length < count * outChannels * pooledPixels || codes.Length < count * outChannels * pooledPixels)
            throw new ArgumentException("pooled convolution: buffers too small for the geometry");
        int rows = PaddedRows(g), width = PaddedWidth(g), rowLength = RowLength(g), chunks = Chunks(g);
        padded[..PaddedImageSize(g)].Clear();
        float* block = stackalloc float[4 * 7 * 7 * MaxChannels];   // the last block's filters, zero beyond OC
        float* scratchBuffer = stackalloc float[4 * 2 * rowLength + 16];
        float* scratch = Align(scratchBuffer);   // the tile: [4 oc][2 rows][rowLength]
        new Span<float>(scratch, 4 * 2 * rowLength).Clear();
        fixed (float* paddedBuffer = padded, w = weight, yStart = pooled)
        fixed (byte* codeStart = codes)
            for (int n = 0; n < count; n++)
            {
                float* paddedStart = Align(paddedBuffer);
                CopyPadded(x, n, g, paddedStart);
                for (int oc0 = 0; oc0 < outChannels; oc0 += 4)
                {
                    int valid = Math.Min(4, outChannels - oc0);
                    float* filters = w + oc0 * patch;
                    if (valid < 4)
                    {
                        new Span<float>(block, 4 * patch).Clear();
                        new ReadOnlySpan<float>(filters, valid * patch).CopyTo(new Span<float>(block, valid * patch));
                        filters = block;
                    }
                    for (int py = 0; py < pooledHeight; py++)
                    {
                        float* source = paddedStart + 2 * py * width;   // conv row 2·py reads padded rows 2·py + ky
                        if (kernel == GemmKernel.Avx512)
                            for (int j = 0; j < chunks; j += 3)
                            {
                                float* s = source + j * 16, t = scratch + j * 16;
                                if (chunks - j >= 3) Tile512<Three>(s, filters, g.Channels, k, rows, width, t, rowLength);
                                else if (chunks - j == 2) Tile512<Two>(s, filters, g.Channels, k, rows, width, t, rowLength);
                                else Tile512<One>(s, filters, g.Channels, k, rows, width, t, rowLength);
                            }
                        else if (kernel == GemmKernel.Avx2) Tile256(source, filters, g.Channels, k, rows, width, chunks, scratch, rowLength);
                        else TileScalar(source, filters, g.Channels, k, rows, width, chunks, scratch, rowLength);
                        for (int o = 0; o < valid; o++)
                        {
                            int plane = (n * outChannels + oc0 + o) * pooledPixels + py * pooledWidth;
                            float b = bias.IsEmpty ? 0 : bias[oc0 + o], factor = scale.IsEmpty ? 1 : scale[oc0 + o];
                            float* row0 = scratch + 2 * o * rowLength;
                            bool scaled = !scale.IsEmpty;
                            if (kernel == GemmKernel.Avx512) Pool512(row0, rowLength, factor, b, scaled, activation, pooledWidth, yStart + plane, codeStart + plane);
                            else if (kernel == GemmKernel.Avx2) Pool256(row0, rowLength, factor, b, scaled, activation, pooledWidth, yStart + plane, codeStart + plane);
                            else PoolScalar(row0, rowLength, factor, b, scaled, activation, pooledWidth, yStart + plane, codeStart + plane);
                        }
                    }
                }
            }
    }

    interface IChunkCount { static abstract int Count { get; } }
    struct One : IChunkCount { public static int Count => 1; }
    struct Two : IChunkCount { public static int Count => 2; }
    struct Three : IChunkCount { public static int Count => 3; }

    /// <summary>
    /// 4 output channels x conv rows 2·py and 2·py + 1 x T vectors of 16 columns (T = 1-3, a constant per instantiation): up to 24 zmm
    /// accumulators, 4 weight broadcasts and 2·T row loads per 8·T FMAs, stored to the scratch rows [o][r].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile512<T>(float* source, float* w, int channels, int k, int rows, int width, float* scratch, int rowLength) where T : struct, IChunkCount
    {
        int patch = channels * k * k;
        Vector512<float> a00 = default, a01 = default, a02 = default, a10 = default, a11 = default, a12 = default,
                         b00 = default, b01 = default, b02 = default, b10 = default, b11 = default, b12 = default,
                         c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default,
                         d00 = default, d01 = default, d02 = default, d10 = default, d11 = default, d12 = default;
        for (int c = 0; c < channels; c++)
            for (int ky = 0; ky < k; ky++)
            {
                float* r0 = source + (c * rows + ky) * width, r1 = r0 + width;
                float* wa = w + (c * k + ky) * k, wb = wa + patch, wc = wb + patch, wd = wc + patch;
                for (int kx = 0; kx < k; kx++)
                {
                    var va = Vector512.Create(wa[kx]);
                    var vb = Vector512.Create(wb[kx]);
                    var vc = Vector512.Create(wc[kx]);
                    var vd = Vector512.Create(wd[kx]);
                    var x = Vector512.Load(r0 + kx);
                    a00 = Avx512F.FusedMultiplyAdd(va, x, a00); b00 = Avx512F.FusedMultiplyAdd(vb, x, b00);
                    c00 = Avx512F.FusedMultiplyAdd(vc, x, c00); d00 = Avx512F.FusedMultiplyAdd(vd, x, d00);
                    x = Vector512.Load(r1 + kx);
                    a10 = Avx512F.FusedMultiplyAdd(va, x, a10); b10 = Avx512F.FusedMultiplyAdd(vb, x, b10);
                    c10 = Avx512F.FusedMultiplyAdd(vc, x, c10); d10 = Avx512F.FusedMultiplyAdd(vd, x, d10);
                    if (T.Count > 1)
                    {
                        x = Vector512.Load(r0 + kx + 16);
                        a01 = Avx512F.FusedMultiplyAdd(va, x, a01); b01 = Avx512F.FusedMultiplyAdd(vb, x, b01);
                        c01 = Avx512F.FusedMultiplyAdd(vc, x, c01); d01 = Avx512F.FusedMultiplyAdd(vd, x, d01);
                        x = Vector512.Load(r1 + kx + 16);
                        a11 = Avx512F.FusedMultiplyAdd(va, x, a11); b11 = Avx512F.FusedMultiplyAdd(vb, x, b11);
                        c11 = Avx512F.FusedMultiplyAdd(vc, x, c11); d11 = Avx512F.FusedMultiplyAdd(vd, x, d11);
                    }
                    if (T.Count > 2)
                    {
                        x = Vector512.Load(r0 + kx + 32);
                        a02 = Avx512F.FusedMultiplyAdd(va, x, a02); b02 = Avx512F.FusedMultiplyAdd(vb, x, b02);
                        c02 = Avx512F.FusedMultiplyAdd(vc, x, c02); d02 = Avx512F.FusedMultiplyAdd(vd, x, d02);
                        x = Vector512.Load(r1 + kx + 32);
                        a12 = Avx512F.FusedMultiplyAdd(va, x, a12); b12 = Avx512F.FusedMultiplyAdd(vb, x, b12);
                        c12 = Avx512F.FusedMultiplyAdd(vc, x, c12); d12 = Avx512F.FusedMultiplyAdd(vd, x, d12);
                    }
                }
            }
        float* s = scratch;
        a00.Store(s); a10.Store(s + rowLength); s += 2 * rowLength;
        b00.Store(s); b10.Store(s + rowLength); s += 2 * rowLength;
        c00.Store(s); c10.Store(s + rowLength); s += 2 * rowLength;
        d00.Store(s); d10.Store(s + rowLength);
        if (T.Count > 1)
        {
            s = scratch + 16;
            a01.Store(s); a11.Store(s + rowLength); s += 2 * rowLength;
            b01.Store(s); b11.Store(s + rowLength); s += 2 * rowLength;
            c01.Store(s); c11.Store(s + rowLength); s += 2 * rowLength;
            d01.Store(s); d11.Store(s + rowLength);
        }
        if (T.Count > 2)
        {
            s = scratch + 32;
            a02.Store(s); a12.Store(s + rowLength); s += 2 * rowLength;
            b02.Store(s); b12.Store(s + rowLength); s += 2 * rowLength;
            c02.Store(s); c12.Store(s + rowLength); s += 2 * rowLength;
            d02.Store(s); d12.Store(s + rowLength);
        }
    }

    /// <summary>AVX2: per pair of output channels, 2 rows x 16 columns (8 ymm accumulators), every 16-column chunk.</summary>
    static void Tile256(float* source, float* w, int channels, int k, int rows, int width, int chunks, float* scratch, int rowLength)
    {
        int patch = channels * k * k;
        for (int o = 0; o < 4; o += 2)
            for (int j = 0; j < chunks; j++)
            {
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
                for (int c = 0; c < channels; c++)
                    for (int ky = 0; ky < k; ky++)
                    {
                        float* r0 = source + (c * rows + ky) * width + j * 16, r1 = r0 + width;
                        float* wa = w + o * patch + (c * k + ky) * k, wb = wa + patch;
                        for (int kx = 0; kx < k; kx++)
                        {
                            var va = Vector256.Create(wa[kx]);
                            var vb = Vector256.Create(wb[kx]);
                            var x0 = Vector256.Load(r0 + kx);
                            var x1 = Vector256.Load(r0 + kx + 8);
                            var x2 = Vector256.Load(r1 + kx);
                            var x3 = Vector256.Load(r1 + kx + 8);
                            a0 = Fma.MultiplyAdd(va, x0, a0); a1 = Fma.MultiplyAdd(va, x1, a1); a2 = Fma.MultiplyAdd(va, x2, a2); a3 = Fma.MultiplyAdd(va, x3, a3);
                            b0 = Fma.MultiplyAdd(vb, x0, b0); b1 = Fma.MultiplyAdd(vb, x1, b1); b2 = Fma.MultiplyAdd(vb, x2, b2); b3 = Fma.MultiplyAdd(vb, x3, b3);
                        }
                    }
                float* s = scratch + 2 * o * rowLength + j * 16;
                a0.Store(s); a1.Store(s + 8); a2.Store(s + rowLength); a3.Store(s + rowLength + 8);
                s += 2 * rowLength;
                b0.Store(s); b1.Store(s + 8); b2.Store(s + rowLength); b3.Store(s + rowLength + 8);
            }
    }

    static void TileScalar(float* source, float* w, int channels, int k, int rows, int width, int chunks, float* scratch, int rowLength)
    {
        int patch = channels * k * k;
        for (int o = 0; o < 4; o++)
            for (int r = 0; r < 2; r++)
                for (int column = 0; column < chunks * 16; column++)
                {
                    float sum = 0;
                    for (int c = 0; c < channels; c++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++)
                                sum += w[o * patch + (c * k + ky) * k + kx] * source[(c * rows + r + ky) * width + column + kx];
                    scratch[(2 * o + r) * rowLength + column] = sum;
                }
    }

    /// <summary>
    /// Pools conv rows <paramref name="row0"/> and row0 + rowLength into <paramref name="pooledWidth"/> values and codes, 16 at a time: the
    /// pairs of each row, then the rows, a later candidate winning only when greater or NaN, which is the row-major scan's first maximum;
    /// then the bias and the activation, once per pooled value (max(z) + b = max(z + b), and a ReLU passes the winner's gradient exactly
    /// when the pooled value is positive).
    /// </summary>
    static void Pool512(float* row0, int rowLength, float scale, float bias, bool scaled, Activation activation, int pooledWidth, float* pooled, byte* codes)
    {
        var s = Vector512.Create(scale);
        var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        var odd = even + Vector512<int>.One;
        var lanes = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        var b = Vector512.Create(bias);
        bool relu = activation == Activation.ReLU;
        float* row1 = row0 + rowLength;
        for (int column = 0; column < 2 * pooledWidth; column += 32)
        {
            Vector512<float> t0 = Vector512.Load(row0 + column), t1 = Vector512.Load(row0 + column + 16);
            Vector512<float> u0 = Vector512.Load(row1 + column), u1 = Vector512.Load(row1 + column + 16);
            if (scaled) (t0, t1, u0, u1) = (t0 * s + b, t1 * s + b, u0 * s + b, u1 * s + b);
            var top0 = Avx512F.PermuteVar16x32x2(t0, even, t1);   // window inputs 0 and 1 (top row)
            var top1 = Avx512F.PermuteVar16x32x2(t0, odd, t1);
            var bottom0 = Avx512F.PermuteVar16x32x2(u0, even, u1);   // window inputs 2 and 3
            var bottom1 = Avx512F.PermuteVar16x32x2(u0, odd, u1);
            var later = Wins(top1, top0);
            var top = Vector512.ConditionalSelect(later, top1, top0);
            var topCode = Vector512.ConditionalSelect(later.AsInt32(), Vector512<int>.One, Vector512<int>.Zero);
            later = Wins(bottom1, bottom0);
            var bottom = Vector512.ConditionalSelect(later, bottom1, bottom0);
            var bottomCode = Vector512.ConditionalSelect(later.AsInt32(), Vector512.Create(3), Vector512.Create(2));
            later = Wins(bottom, top);
            var max = Vector512.ConditionalSelect(later, bottom, top);
            if (!scaled) max += b;
            var code = Vector512.ConditionalSelect(later.AsInt32(), bottomCode, topCode);
            if (relu)
            {
                code = Vector512.ConditionalSelect(Vector512.GreaterThan(max, Vector512<float>.Zero).AsInt32(), code, Vector512.Create((int)NoGradient));
                max = Vector512.Max(max, Vector512<float>.Zero);   // IEEE maximum: a NaN stays NaN
            }
            var bytes = Avx512F.ConvertToVector128Byte(code);
            int valid = pooledWidth - column / 2;
            if (valid >= 16)
            {
                max.Store(pooled + column / 2);
                bytes.Store(codes + column / 2);
            }
            else
            {
                var mask = Vector512.LessThan(lanes, Vector512.Create(valid));
                Avx512F.MaskStore(pooled + column / 2, mask.AsSingle(), max);
                Avx512BW.VL.MaskStore(codes + column / 2, Avx512F.ConvertToVector128Byte(mask), bytes);
            }
        }
    }

    /// <summary>Lanes where the later candidate wins: greater, or NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Wins(Vector512<float> later, Vector512<float> earlier) =>
        Vector512.GreaterThan(later, earlier) | ~Vector512.Equals(later, later);

    /// <summary><see cref="Pool512"/> with 8-lane vectors.</summary>
    static void Pool256(float* row0, int rowLength, float scale, float bias, bool scaled, Activation activation, int pooledWidth, float* pooled, byte* codes)
    {
        var s = Vector256.Create(scale);
        var split = Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7);
        var b = Vector256.Create(bias);
        bool relu = activation == Activation.ReLU;
        float* row1 = row0 + rowLength;
        for (int column = 0; column < 2 * pooledWidth; column += 16)
        {
            Vector256<float> t0 = Vector256.Load(row0 + column), t1 = Vector256.Load(row0 + column + 8);
            Vector256<float> u0 = Vector256.Load(row1 + column), u1 = Vector256.Load(row1 + column + 8);
            if (scaled) (t0, t1, u0, u1) = (t0 * s + b, t1 * s + b, u0 * s + b, u1 * s + b);
            (t0, t1, u0, u1) = (Avx2.PermuteVar8x32(t0, split), Avx2.PermuteVar8x32(t1, split), Avx2.PermuteVar8x32(u0, split), Avx2.PermuteVar8x32(u1, split));
            var top0 = Avx2.Permute2x128(t0, t1, 0x20);   // even columns
            var top1 = Avx2.Permute2x128(t0, t1, 0x31);   // odd columns
            var bottom0 = Avx2.Permute2x128(u0, u1, 0x20);
            var bottom1 = Avx2.Permute2x128(u0, u1, 0x31);
            var later = Wins(top1, top0);
            var top = Vector256.ConditionalSelect(later, top1, top0);
            var topCode = Vector256.ConditionalSelect(later.AsInt32(), Vector256<int>.One, Vector256<int>.Zero);
            later = Wins(bottom1, bottom0);
            var bottom = Vector256.ConditionalSelect(later, bottom1, bottom0);
            var bottomCode = Vector256.ConditionalSelect(later.AsInt32(), Vector256.Create(3), Vector256.Create(2));
            later = Wins(bottom, top);
            var max = Vector256.ConditionalSelect(later, bottom, top);
            if (!scaled) max += b;
            var code = Vector256.ConditionalSelect(later.AsInt32(), bottomCode, topCode);
            if (relu)
            {
                code = Vector256.ConditionalSelect(Vector256.GreaterThan(max, Vector256<float>.Zero).AsInt32(), code, Vector256.Create((int)NoGradient));
                max = Vector256.Max(max, Vector256<float>.Zero);
            }
            int valid = Math.Min(8, pooledWidth - column / 2);
            if (valid == 8) max.Store(pooled + column / 2);
            else for (int i = 0; i < valid; i++) pooled[column / 2 + i] = max.GetElement(i);
            for (int i = 0; i < valid; i++) codes[column / 2 + i] = (byte)code.GetElement(i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Wins(Vector256<float> later, Vector256<float> earlier) =>
        Vector256.GreaterThan(later, earlier) | ~Vector256.Equals(later, later);

    static void PoolScalar(float* row0, int rowLength, float scale, float bias, bool scaled, Activation activation, int pooledWidth, float* pooled, byte* codes)
    {
        for (int px = 0; px < pooledWidth; px++)
        {
            float best = 0;
            int winner = -1;
            for (int position = 0; position < 4; position++)
            {
                float sum = row0[position / 2 * rowLength + 2 * px + position % 2];
                float value = scaled ? sum * scale + bias : sum + bias;
                if (activation == Activation.ReLU && !(value > 0) && !float.IsNaN(value)) value = 0;
                if (winner < 0 || value > best || float.IsNaN(value)) (best, winner) = (value, position);
            }
            pooled[px] = best;
            codes[px] = activation == Activation.ReLU && !(best > 0) ? NoGradient : (byte)winner;
        }
    }

    /// <summary>
    /// Training backward from δ of the pooled output and the forward pass's codes: adds δW[OC, C, k, k] and δb[OC] (empty: none) of
    /// <paramref name="count"/> images to <paramref name="δweight"/> and <paramref name="δbias"/>. Per band of <see cref="BandRows"/>
    /// pooled rows, δ of the conv output is rebuilt for every output channel into <paramref name="band"/> (zero where no window sent
    /// any), then per block of 8 output channels (AVX-512; AVX2: 4) and kernel row, 3 kernel columns x the block accumulate in vector
    /// registers (24 zmm) over the band: 8 δ loads and 3 shifted input loads per 24 FMAs. The vector accumulators are summed into
    /// the double gradients every few images.
    /// </summary>
    /// <param name="δpooled">[count, OC, OH/2, OW/2]</param> <param name="codes">[count, OC, OH/2, OW/2] from <see cref="Forward"/></param>
    /// <param name="x">[count, C, H, W], the forward input</param>
    /// <param name="padded">work: <see cref="PaddedImageSize"/></param> <param name="band">work: <see cref="BandSize"/></param>
    /// <param name="accumulators">work: <see cref="AccumulatorSize"/></param>
    /// <param name="δweight">[OC, C, k, k], added to</param> <param name="δbias">[OC] or empty, added to</param>
    public static void Backward(GemmKernel kernel, ReadOnlySpan<float> δpooled, ReadOnlySpan<byte> codes, ReadOnlySpan<float> x, int count, int outChannels,
        in ConvGeometry g, Span<float> padded, Span<float> band, Span<float> accumulators, Span<double> δweight, Span<double> δbias)
    {
        kernel = Usable(kernel, g);
        int k = g.Kernel, kr = KernelRounded(k), channels = g.Channels, pooledHeight = g.OutputHeight / 2, pooledWidth = g.OutputWidth / 2;
        int pooledPixels = pooledHeight * pooledWidth;
        if (δpooled.Length < count * outChannels * pooledPixels || codes.Length < count * outChannels * pooledPixels || x.Length < count * channels * g.InputPixels
            || padded.Length < PaddedImageSize(g) || band.Length < BandSize(g, outChannels) || accumulators.Length < AccumulatorSize(g, outChannels)
            || δweight.Length < outChannels * g.PatchSize || (!δbias.IsEmpty && δbias.Length < outChannels))
            throw new ArgumentException("pooled convolution: buffers too small for the geometry");
        int rows = PaddedRows(g), width = PaddedWidth(g), rowLength = RowLength(g), chunks = Chunks(g), plane = 2 * BandRows * rowLength;
        int blockChannels = kernel == GemmKernel.Avx512 ? 8 : kernel == GemmKernel.Avx2 ? 4 : 1, lanes = kernel == GemmKernel.Avx512 ? 16 : kernel == GemmKernel.Avx2 ? 8 : 1;
        int blocks = (outChannels + blockChannels - 1) / blockChannels;
        padded[..PaddedImageSize(g)].Clear();
        band[..BandSize(g, outChannels)].Clear();   // planes beyond OC stay zero
        accumulators[..AccumulatorSize(g, outChannels)].Clear();
        int bands = (pooledHeight + BandRows - 1) / BandRows, imageSize = channels * g.InputPixels;
        fixed (float* paddedBuffer = padded, δStart = δpooled, bandBuffer = band, accBuffer = accumulators, xStart = x)
        fixed (byte* codeStart = codes)
            for (int n = 0; n < count; n++)
            {
                float* paddedStart = Align(paddedBuffer), bandStart = Align(bandBuffer), acc = Align(accBuffer);
                CopyPadded(x, n, g, paddedStart);
                for (int py0 = 0, b = 0; py0 < pooledHeight; py0 += BandRows, b++)
                {
                    int bandRows = Math.Min(BandRows, pooledHeight - py0);
                    if (n + 1 < count)
                    {
                        // The next image's δ, codes and input, a share per band, into L2: a band reads short runs of every channel's plane
                        // (the hardware prefetcher does not follow them), and the codes and input were written long before.
                        Prefetch(δStart + (long)(n + 1) * outChannels * pooledPixels, outChannels * pooledPixels * sizeof(float), b, bands);
                        Prefetch(codeStart + (long)(n + 1) * outChannels * pooledPixels, outChannels * pooledPixels, b, bands);
                        Prefetch(xStart + (long)(n + 1) * imageSize, imageSize * sizeof(float), b, bands);
                    }
                    for (int oc = 0; oc < outChannels; oc++)
                    {
                        int at = (n * outChannels + oc) * pooledPixels + py0 * pooledWidth;
                        float sum = kernel == GemmKernel.Avx512 ? Unpool512(δStart + at, codeStart + at, pooledWidth, bandRows, chunks, bandStart + oc * plane, rowLength)
                                  : UnpoolScalar(δStart + at, codeStart + at, pooledWidth, bandRows, bandStart + oc * plane, rowLength);
                        if (!δbias.IsEmpty) δbias[oc] += sum;
                    }
                    for (int block = 0; block < blocks; block++)
                        for (int c = 0; c < channels; c++)
                            for (int ky = 0; ky < k; ky++)
                                for (int kx = 0; kx < kr; kx += 3)
                                {
                                    float* δ = bandStart + block * blockChannels * plane;
                                    float* source = paddedStart + (c * rows + 2 * py0 + ky) * width + kx;
                                    float* a = acc + ((((long)block * channels + c) * k + ky) * kr + kx) * blockChannels * lanes;
                                    if (kernel == GemmKernel.Avx512) Gradient512(δ, plane, rowLength, source, width, 2 * bandRows, chunks, a);
                                    else if (kernel == GemmKernel.Avx2) Gradient256(δ, plane, rowLength, source, width, 2 * bandRows, chunks, a);
                                    else GradientScalar(δ, rowLength, source, width, 2 * bandRows, chunks, a);
                                }
                }
                if (n % FlushImages == FlushImages - 1 || n == count - 1) Flush(acc, outChannels, channels, k, kr, blockChannels, lanes, δweight);
            }
    }

    /// <summary>Share <paramref name="part"/> of <paramref name="parts"/> of the <paramref name="bytes"/> at <paramref name="start"/>, into L2.</summary>
    static void Prefetch(void* start, int bytes, int part, int parts)
    {
        if (!Sse.IsSupported) return;
        long from = (long)bytes * part / parts / 64 * 64, to = (long)bytes * (part + 1) / parts;
        for (long i = from; i < to; i += 64) Sse.Prefetch1((byte*)start + i);
    }

    /// <summary>Images whose products the float vector accumulators sum before they go into the double gradients.</summary>
    const int FlushImages = 8;

    /// <summary>Adds the vector accumulators [block][c][ky][kx (rounded)][oc in block][lanes] into δW [OC, C, k, k] (double) and clears them.</summary>
    static void Flush(float* acc, int outChannels, int channels, int k, int kr, int blockChannels, int lanes, Span<double> δweight)
    {
        int blocks = (outChannels + blockChannels - 1) / blockChannels;
        for (int block = 0; block < blocks; block++)
            for (int c = 0; c < channels; c++)
                for (int ky = 0; ky < k; ky++)
                    for (int kx0 = 0; kx0 < kr; kx0 += 3)
                    {
                        float* a = acc + ((((long)block * channels + c) * k + ky) * kr + kx0) * blockChannels * lanes;
                        for (int o = 0; o < blockChannels; o++)
                            for (int t = 0; t < 3; t++)
                            {
                                float* lane = a + (o * 3 + t) * lanes;
                                int oc = block * blockChannels + o, kx = kx0 + t;
                                if (oc < outChannels && kx < k)
                                    δweight[((oc * channels + c) * k + ky) * k + kx] += lanes == 16 ? Vector512.Sum(Vector512.Load(lane))
                                                                                     : lanes == 8 ? Vector256.Sum(Vector256.Load(lane)) : lane[0];
                                new Span<float>(lane, lanes).Clear();
                            }
                    }
    }

    /// <summary>
    /// <paramref name="rows"/> pooled rows of one plane: δ back at the winners' positions in conv rows 2r and 2r + 1 of the band plane
    /// <paramref name="band"/> (zero elsewhere, and in every column past the pooled ones), 8 pooled values per 16 columns; returns their
    /// sum (the bias gradient's share).
    /// </summary>
    static float Unpool512(float* δpooled, byte* codes, int pooledWidth, int rows, int chunks, float* band, int rowLength)
    {
        var pairs = Vector512.Create(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
        var topCodes = Vector512.Create(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1);
        var bottomCodes = topCodes + Vector512.Create(2);
        var lanes = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var sum = Vector256<float>.Zero;
        for (int r = 0; r < rows; r++, δpooled += pooledWidth, codes += pooledWidth)
        {
            float* row0 = band + 2 * r * rowLength;
            for (int j = 0; j < chunks; j++)
            {
                int first = 8 * j;
                Vector256<float> δ8;
                Vector256<int> codes8;
                if (first + 8 <= pooledWidth)
                {
                    δ8 = Vector256.Load(δpooled + first);
                    codes8 = Avx2.ConvertToVector256Int32(Vector128.CreateScalar(*(ulong*)(codes + first)).AsByte());
                }
                else
                {
                    // The row's last few values: masked loads (codes past the row read as NoGradient).
                    var valid = Vector256.LessThan(lanes, Vector256.Create(pooledWidth - first));
                    δ8 = Avx512F.VL.MaskLoad(δpooled + first, valid.AsSingle(), Vector256<float>.Zero);
                    var bytes = Avx512BW.VL.MaskLoad(codes + first, Avx512F.VL.ConvertToVector128Byte(valid), Vector128.Create(NoGradient));
                    codes8 = Avx2.ConvertToVector256Int32(bytes);
                }
                sum += Vector256.ConditionalSelect(Vector256.LessThan(codes8, Vector256.Create((int)NoGradient)).AsSingle(), δ8, Vector256<float>.Zero);
                var δ16 = Avx512F.PermuteVar16x32(δ8.ToVector512Unsafe(), pairs);
                var codes16 = Avx512F.PermuteVar16x32(codes8.ToVector512Unsafe(), pairs);
                Vector512.ConditionalSelect(Vector512.Equals(codes16, topCodes).AsSingle(), δ16, Vector512<float>.Zero).Store(row0 + 16 * j);
                Vector512.ConditionalSelect(Vector512.Equals(codes16, bottomCodes).AsSingle(), δ16, Vector512<float>.Zero).Store(row0 + rowLength + 16 * j);
            }
        }
        return Vector256.Sum(sum);
    }

    static float UnpoolScalar(float* δpooled, byte* codes, int pooledWidth, int rows, float* band, int rowLength)
    {
        float sum = 0;
        for (int r = 0; r < rows; r++, δpooled += pooledWidth, codes += pooledWidth)
        {
            float* row0 = band + 2 * r * rowLength;
            for (int px = 0; px < pooledWidth; px++)
            {
                float δ = δpooled[px];
                int code = codes[px];
                row0[2 * px] = code == 0 ? δ : 0;
                row0[2 * px + 1] = code == 1 ? δ : 0;
                row0[rowLength + 2 * px] = code == 2 ? δ : 0;
                row0[rowLength + 2 * px + 1] = code == 3 ? δ : 0;
                if (code < NoGradient) sum += δ;
            }
        }
        return sum;
    }

    /// <summary>
    /// 8 output channels (δ planes <paramref name="plane"/> apart) x kernel columns kx..kx+2 (<paramref name="source"/> already at kx):
    /// 24 zmm accumulators over <paramref name="rowCount"/> conv rows x <paramref name="chunks"/> vectors of 16 columns.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Gradient512(float* δ, int plane, int rowLength, float* source, int width, int rowCount, int chunks, float* acc)
    {
        var a0 = Vector512.Load(acc); var a1 = Vector512.Load(acc + 16); var a2 = Vector512.Load(acc + 32);
        var b0 = Vector512.Load(acc + 48); var b1 = Vector512.Load(acc + 64); var b2 = Vector512.Load(acc + 80);
        var c0 = Vector512.Load(acc + 96); var c1 = Vector512.Load(acc + 112); var c2 = Vector512.Load(acc + 128);
        var d0 = Vector512.Load(acc + 144); var d1 = Vector512.Load(acc + 160); var d2 = Vector512.Load(acc + 176);
        var e0 = Vector512.Load(acc + 192); var e1 = Vector512.Load(acc + 208); var e2 = Vector512.Load(acc + 224);
        var f0 = Vector512.Load(acc + 240); var f1 = Vector512.Load(acc + 256); var f2 = Vector512.Load(acc + 272);
        var g0 = Vector512.Load(acc + 288); var g1 = Vector512.Load(acc + 304); var g2 = Vector512.Load(acc + 320);
        var h0 = Vector512.Load(acc + 336); var h1 = Vector512.Load(acc + 352); var h2 = Vector512.Load(acc + 368);
        for (int r = 0; r < rowCount; r++)
            for (int j = 0; j < chunks; j++)
            {
                float* xs = source + r * width + 16 * j;
                var x0 = Vector512.Load(xs);
                var x1 = Vector512.Load(xs + 1);
                var x2 = Vector512.Load(xs + 2);
                float* p = δ + r * rowLength + 16 * j;
                var v = Vector512.Load(p);
                a0 = Avx512F.FusedMultiplyAdd(v, x0, a0); a1 = Avx512F.FusedMultiplyAdd(v, x1, a1); a2 = Avx512F.FusedMultiplyAdd(v, x2, a2);
                v = Vector512.Load(p + plane);
                b0 = Avx512F.FusedMultiplyAdd(v, x0, b0); b1 = Avx512F.FusedMultiplyAdd(v, x1, b1); b2 = Avx512F.FusedMultiplyAdd(v, x2, b2);
                v = Vector512.Load(p + 2 * plane);
                c0 = Avx512F.FusedMultiplyAdd(v, x0, c0); c1 = Avx512F.FusedMultiplyAdd(v, x1, c1); c2 = Avx512F.FusedMultiplyAdd(v, x2, c2);
                v = Vector512.Load(p + 3 * plane);
                d0 = Avx512F.FusedMultiplyAdd(v, x0, d0); d1 = Avx512F.FusedMultiplyAdd(v, x1, d1); d2 = Avx512F.FusedMultiplyAdd(v, x2, d2);
                v = Vector512.Load(p + 4 * plane);
                e0 = Avx512F.FusedMultiplyAdd(v, x0, e0); e1 = Avx512F.FusedMultiplyAdd(v, x1, e1); e2 = Avx512F.FusedMultiplyAdd(v, x2, e2);
                v = Vector512.Load(p + 5 * plane);
                f0 = Avx512F.FusedMultiplyAdd(v, x0, f0); f1 = Avx512F.FusedMultiplyAdd(v, x1, f1); f2 = Avx512F.FusedMultiplyAdd(v, x2, f2);
                v = Vector512.Load(p + 6 * plane);
                g0 = Avx512F.FusedMultiplyAdd(v, x0, g0); g1 = Avx512F.FusedMultiplyAdd(v, x1, g1); g2 = Avx512F.FusedMultiplyAdd(v, x2, g2);
                v = Vector512.Load(p + 7 * plane);
                h0 = Avx512F.FusedMultiplyAdd(v, x0, h0); h1 = Avx512F.FusedMultiplyAdd(v, x1, h1); h2 = Avx512F.FusedMultiplyAdd(v, x2, h2);
            }
        a0.Store(acc); a1.Store(acc + 16); a2.Store(acc + 32);
        b0.Store(acc + 48); b1.Store(acc + 64); b2.Store(acc + 80);
        c0.Store(acc + 96); c1.Store(acc + 112); c2.Store(acc + 128);
        d0.Store(acc + 144); d1.Store(acc + 160); d2.Store(acc + 176);
        e0.Store(acc + 192); e1.Store(acc + 208); e2.Store(acc + 224);
        f0.Store(acc + 240); f1.Store(acc + 256); f2.Store(acc + 272);
        g0.Store(acc + 288); g1.Store(acc + 304); g2.Store(acc + 320);
        h0.Store(acc + 336); h1.Store(acc + 352); h2.Store(acc + 368);
    }

    /// <summary>AVX2: 4 output channels x 3 kernel columns, 12 ymm accumulators, 8 columns per step.</summary>
    static void Gradient256(float* δ, int plane, int rowLength, float* source, int width, int rowCount, int chunks, float* acc)
    {
        var a0 = Vector256.Load(acc); var a1 = Vector256.Load(acc + 8); var a2 = Vector256.Load(acc + 16);
        var b0 = Vector256.Load(acc + 24); var b1 = Vector256.Load(acc + 32); var b2 = Vector256.Load(acc + 40);
        var c0 = Vector256.Load(acc + 48); var c1 = Vector256.Load(acc + 56); var c2 = Vector256.Load(acc + 64);
        var d0 = Vector256.Load(acc + 72); var d1 = Vector256.Load(acc + 80); var d2 = Vector256.Load(acc + 88);
        for (int r = 0; r < rowCount; r++)
            for (int j = 0; j < 2 * chunks; j++)
            {
                float* xs = source + r * width + 8 * j;
                var x0 = Vector256.Load(xs);
                var x1 = Vector256.Load(xs + 1);
                var x2 = Vector256.Load(xs + 2);
                float* p = δ + r * rowLength + 8 * j;
                var v = Vector256.Load(p);
                a0 = Fma.MultiplyAdd(v, x0, a0); a1 = Fma.MultiplyAdd(v, x1, a1); a2 = Fma.MultiplyAdd(v, x2, a2);
                v = Vector256.Load(p + plane);
                b0 = Fma.MultiplyAdd(v, x0, b0); b1 = Fma.MultiplyAdd(v, x1, b1); b2 = Fma.MultiplyAdd(v, x2, b2);
                v = Vector256.Load(p + 2 * plane);
                c0 = Fma.MultiplyAdd(v, x0, c0); c1 = Fma.MultiplyAdd(v, x1, c1); c2 = Fma.MultiplyAdd(v, x2, c2);
                v = Vector256.Load(p + 3 * plane);
                d0 = Fma.MultiplyAdd(v, x0, d0); d1 = Fma.MultiplyAdd(v, x1, d1); d2 = Fma.MultiplyAdd(v, x2, d2);
            }
        a0.Store(acc); a1.Store(acc + 8); a2.Store(acc + 16);
        b0.Store(acc + 24); b1.Store(acc + 32); b2.Store(acc + 40);
        c0.Store(acc + 48); c1.Store(acc + 56); c2.Store(acc + 64);
        d0.Store(acc + 72); d1.Store(acc + 80); d2.Store(acc + 88);
    }

    /// <summary>One output channel x 3 kernel columns, scalar.</summary>
    static void GradientScalar(float* δ, int rowLength, float* source, int width, int rowCount, int chunks, float* acc)
    {
        for (int t = 0; t < 3; t++)
        {
            float sum = 0;
            for (int r = 0; r < rowCount; r++)
                for (int column = 0; column < 16 * chunks; column++) sum += δ[r * rowLength + column] * source[r * width + column + t];
            acc[t] += sum;
        }
    }
}

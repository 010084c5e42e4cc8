using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ongko.Kernels;

/// <summary>
/// Direct convolution of one image in channels-last layout (pixel (y, x), channel c at y·rowStride + x·pixelStride + c)
/// with weights packed once (<see cref="PackWeights"/>): each vector holds 16 output channels, each input value is
/// broadcast, and a tile of P output pixels x R blocks of 16 channels accumulates in registers over k·k·C taps. No
/// im2col copy, no per-call packing, no waste on narrow images (the pixels of a tile may span rows), so it suits a
/// single image (batch-1 latency), where a GEMM's N is only the image's pixels. The input carries its zero border
/// (the padding); the output is written straight into the next layer's input, border and all.
/// <see cref="ForwardNaive"/> (unpacked weights, double sums) is the twin.
/// </summary>
public static unsafe class ChannelsLastConvolution
{
    /// <summary>Output channels per vector block.</summary>
    public const int Block = 16;

    /// <summary>Channels rounded up to whole blocks: the pixel stride of an output.</summary>
    public static int PaddedChannels(int channels) => (channels + Block - 1) / Block * Block;

    /// <summary>
    /// Blocks of 16 output channels one tile computes together (R): 2 when the block count is even, else 1. (Measured: 4 blocks x
    /// 4 pixels ran at a quarter of the speed of 2 x 8 on 64-channel layers, its weights streaming from L2 twice as fast.)
    /// </summary>
    public static int GroupBlocks(int outChannels)
    {
        int blocks = PaddedChannels(outChannels) / Block;
        return blocks % 2 == 0 ? 2 : 1;
    }

    /// <summary>Floats of the packed weights: [OCp/(16R)][k·k][C][16R].</summary>
    public static int PackedSize(int outChannels, int channels, int kernel) => PaddedChannels(outChannels) * channels * kernel * kernel;

    /// <summary>
    /// W[OC, C, k, k] into [OCp/(16R)][ky][kx][C][16R] (R = <see cref="GroupBlocks"/>; zero filters for the padded channels):
    /// the order a tile reads them in, one stream.
    /// </summary>
    public static void PackWeights(ReadOnlySpan<float> weight, int outChannels, int channels, int kernel, Span<float> packed)
    {
        int group = GroupBlocks(outChannels) * Block, taps = kernel * kernel, padded = PaddedChannels(outChannels);
        if (weight.Length < outChannels * channels * taps || packed.Length < PackedSize(outChannels, channels, kernel))
            throw new ArgumentException("channels-last convolution: weight buffers too small");
        for (int oc = 0; oc < padded; oc++)
        {
            int g = oc / group, lane = oc % group;
            for (int tap = 0; tap < taps; tap++)
                for (int c = 0; c < channels; c++)
                    packed[((g * taps + tap) * channels + c) * group + lane] = oc < outChannels ? weight[(oc * channels + c) * taps + tap] : 0;
        }
    }

    /// <summary>
    /// The twin: y[oy, ox, oc] = activation(scale[oc] · Σ W[oc, c, ky, kx] · x[oy·s + ky, ox·s + kx, c] + shift[oc]) for the
    /// output pixels q = oy·OW + ox in [pixelStart, pixelEnd), every padded channel oc &lt; OCp (zero filters beyond OC), in double.
    /// </summary>
    /// <param name="x">the input's padded origin: pixel (y, x) channel c at x[y·xRowStride + x·xPixelStride + c]</param>
    /// <param name="weight">[OC, C, k, k], unpacked</param> <param name="scale">[OCp]</param> <param name="shift">[OCp]</param>
    /// <param name="y">output pixel (oy, ox) channel oc at y[oy·yRowStride + ox·yPixelStride + oc]</param>
    public static void ForwardNaive(ReadOnlySpan<float> x, int xRowStride, int xPixelStride, int channels,
        ReadOnlySpan<float> weight, int outChannels, int kernel, int stride, int outputWidth, int pixelStart, int pixelEnd,
        ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, Activation activation, Span<float> y, int yRowStride, int yPixelStride)
    {
        for (int q = pixelStart; q < pixelEnd; q++)
        {
            int oy = q / outputWidth, ox = q % outputWidth;
            for (int oc = 0; oc < PaddedChannels(outChannels); oc++)
            {
                double sum = 0;
                if (oc < outChannels)
                    for (int c = 0; c < channels; c++)
                        for (int ky = 0; ky < kernel; ky++)
                            for (int kx = 0; kx < kernel; kx++)
                                sum += (double)weight[((oc * channels + c) * kernel + ky) * kernel + kx]
                                     * x[(oy * stride + ky) * xRowStride + (ox * stride + kx) * xPixelStride + c];
                float value = (float)(scale[oc] * sum + shift[oc]);
                y[oy * yRowStride + ox * yPixelStride + oc] = activation == Activation.ReLU && !(value > 0) ? 0 : value;
            }
        }
    }

    /// <summary>
    /// The fast forward (arguments as <see cref="ForwardNaive"/>, weights packed by <see cref="PackWeights"/>) by the
    /// given kernel: AVX-512 tiles (2 blocks x 8 pixels, or 1 x 8), AVX2 (one block as two halves x 4 pixels) or scalar.
    /// </summary>
    public static void Forward(GemmKernel kernel, float* x, int xRowStride, int xPixelStride, int channels,
        float* packed, int outChannels, int k, int stride, int outputWidth, int pixelStart, int pixelEnd,
        float* scale, float* shift, Activation activation, float* y, int yRowStride, int yPixelStride)
    {
        int R = GroupBlocks(outChannels), group = R * Block, groups = PaddedChannels(outChannels) / group;
        int groupWeights = k * k * channels * group;
        float floor = activation == Activation.ReLU ? 0f : float.NegativeInfinity;
        int P = kernel == GemmKernel.Avx512 ? 8 : 4;
        float** bases = stackalloc float*[8];
        float** outputs = stackalloc float*[8];
        for (int g = 0; g < groups; g++)
        {
            float* w = packed + (long)g * groupWeights, sc = scale + g * group, sh = shift + g * group;
            int rowOf = pixelStart / outputWidth, columnOf = pixelStart % outputWidth;   // of pixel q (one division per call, not per pixel)
            for (int q = pixelStart; q < pixelEnd; q += P)
            {
                int valid = Math.Min(P, pixelEnd - q);
                // The tile's pixels: input origin and output address of each (the last valid one stands in for the missing ones).
                for (int j = 0, oy = rowOf, ox = columnOf; j < P; j++)
                {
                    bases[j] = x + (long)oy * stride * xRowStride + (long)ox * stride * xPixelStride;
                    outputs[j] = y + (long)oy * yRowStride + (long)ox * yPixelStride + g * group;
                    if (j + 1 < valid && ++ox == outputWidth) (oy, ox) = (oy + 1, 0);
                }
                for (int j = 0; j < P; j++)
                    if (++columnOf == outputWidth) (rowOf, columnOf) = (rowOf + 1, 0);
                RunTile(kernel, R, group, w, bases, k, channels, xRowStride, xPixelStride, sc, sh, floor, outputs, valid);
            }
        }
    }

    /// <summary>One tile of P pixels (their input origins in <paramref name="bases"/>, outputs in <paramref name="outputs"/>, the first <paramref name="valid"/> stored) x one group.</summary>
    static void RunTile(GemmKernel kernel, int R, int group, float* w, float** bases, int k, int channels, int xRowStride, int xPixelStride,
        float* sc, float* sh, float floor, float** outputs, int valid)
    {
        float* b0 = bases[0], b1 = bases[1], b2 = bases[2], b3 = bases[3], b4 = bases[4], b5 = bases[5], b6 = bases[6], b7 = bases[7];
        float* o0 = outputs[0], o1 = outputs[1], o2 = outputs[2], o3 = outputs[3], o4 = outputs[4], o5 = outputs[5], o6 = outputs[6], o7 = outputs[7];
        if (kernel == GemmKernel.Avx512 && R == 2 && valid <= 4)
            // A ragged last tile of at most 4 pixels (49 = 6·8 + 1 Winograd tiles): half the tile, half the wasted work.
            Tile512x2x4(w, b0, b1, b2, b3, k, channels, xRowStride, xPixelStride, sc, sh, floor, o0, o1, o2, o3, valid);
        else if (kernel == GemmKernel.Avx512)
        {
            if (R == 2) Tile512x2x8(w, b0, b1, b2, b3, b4, b5, b6, b7, k, channels, xRowStride, xPixelStride, sc, sh, floor, o0, o1, o2, o3, o4, o5, o6, o7, valid);
            else Tile512x1x8(w, b0, b1, b2, b3, b4, b5, b6, b7, k, channels, xRowStride, xPixelStride, sc, sh, floor, o0, o1, o2, o3, o4, o5, o6, o7, valid);
        }
        else
            for (int r = 0; r < R; r++)
                if (kernel == GemmKernel.Avx2)
                    Tile256(w + r * Block, group, b0, b1, b2, b3, k, channels, xRowStride, xPixelStride, sc + r * Block, sh + r * Block, floor,
                            o0 + r * Block, o1 + r * Block, o2 + r * Block, o3 + r * Block, valid);
                else
                    TileScalar(w + r * Block, group, b0, b1, b2, b3, k, channels, xRowStride, xPixelStride, sc + r * Block, sh + r * Block, floor,
                               o0 + r * Block, o1 + r * Block, o2 + r * Block, o3 + r * Block, valid);
    }

    /// <summary>
    /// <see cref="Forward"/> followed by 2x2 stride-2 max pooling, in one pass without storing the unpooled rows: a tile is 2 output
    /// rows x P/2 columns, its pixels go to a small buffer and their maxima to y (pooled pixel (py, px) at y + py·yRowStride + px·yPixelStride)
    /// for pooled rows [pooledRowStart, pooledRowEnd) of <paramref name="pooledWidth"/> columns. The twin: <see cref="ForwardNaive"/>, then
    /// <see cref="MaxPool2x2Naive"/>.
    /// </summary>
    public static void ForwardPooled(GemmKernel kernel, float* x, int xRowStride, int xPixelStride, int channels,
        float* packed, int outChannels, int k, int stride, int pooledWidth, int pooledRowStart, int pooledRowEnd,
        float* scale, float* shift, Activation activation, float* y, int yRowStride, int yPixelStride)
    {
        int R = GroupBlocks(outChannels), group = R * Block, groups = PaddedChannels(outChannels) / group;
        int groupWeights = k * k * channels * group;
        float floor = activation == Activation.ReLU ? 0f : float.NegativeInfinity;
        int P = kernel == GemmKernel.Avx512 ? 8 : 4, columns = P / 2, pooledColumns = P / 4;
        float** bases = stackalloc float*[8];
        float** outputs = stackalloc float*[8];
        float* pixels = stackalloc float[8 * 2 * Block];   // the tile's outputs, one group (at most 2 blocks) per pixel
        for (int j = 0; j < P; j++) outputs[j] = pixels + j * group;
        for (int g = 0; g < groups; g++)
        {
            float* w = packed + (long)g * groupWeights, sc = scale + g * group, sh = shift + g * group;
            for (int py = pooledRowStart; py < pooledRowEnd; py++)
                for (int px = 0; px < pooledWidth; px += pooledColumns)
                {
                    int valid = Math.Min(pooledColumns, pooledWidth - px);
                    // Pixels 0..P/2-1: row 2py, columns 2px.. (the last valid one standing in); then the same columns of row 2py + 1.
                    for (int j = 0; j < columns; j++)
                    {
                        long ox = Math.Min(2 * px + j, 2 * (px + valid) - 1);
                        bases[j] = x + 2L * py * stride * xRowStride + ox * stride * xPixelStride;
                        bases[columns + j] = bases[j] + (long)stride * xRowStride;
                    }
                    RunTile(kernel, R, group, w, bases, k, channels, xRowStride, xPixelStride, sc, sh, floor, outputs, P);
                    for (int p = 0; p < valid; p++)
                    {
                        float* a = pixels + 2 * p * group, b = pixels + (columns + 2 * p) * group, o = y + (long)py * yRowStride + (long)(px + p) * yPixelStride + g * group;
                        for (int c = 0; c < group; c += 8)
                            Vector256.Max(Vector256.Max(Vector256.Load(a + c), Vector256.Load(a + group + c)),
                                          Vector256.Max(Vector256.Load(b + c), Vector256.Load(b + group + c))).Store(o + c);
                    }
                }
        }
    }

    /// <summary>8 pixels x 2 blocks of 16 channels: 16 zmm accumulators, 2 weight loads and 8 broadcasts per 16 FMAs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile512x2x8(float* w, float* b0, float* b1, float* b2, float* b3, float* b4, float* b5, float* b6, float* b7,
        int k, int channels, int rowStride, int pixelStride, float* scale, float* shift, float floor,
        float* o0, float* o1, float* o2, float* o3, float* o4, float* o5, float* o6, float* o7, int valid)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default,
                         c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++)
            {
                long offset = (long)ky * rowStride + (long)kx * pixelStride;
                float* p0 = b0 + offset, p1 = b1 + offset, p2 = b2 + offset, p3 = b3 + offset, p4 = b4 + offset, p5 = b5 + offset, p6 = b6 + offset, p7 = b7 + offset;
                for (int c = 0; c < channels; c++, w += 32)
                {
                    var w0 = Vector512.Load(w); var w1 = Vector512.Load(w + 16);
                    var a = Vector512.Create(p0[c]); c00 = Avx512F.FusedMultiplyAdd(a, w0, c00); c01 = Avx512F.FusedMultiplyAdd(a, w1, c01);
                    a = Vector512.Create(p1[c]); c10 = Avx512F.FusedMultiplyAdd(a, w0, c10); c11 = Avx512F.FusedMultiplyAdd(a, w1, c11);
                    a = Vector512.Create(p2[c]); c20 = Avx512F.FusedMultiplyAdd(a, w0, c20); c21 = Avx512F.FusedMultiplyAdd(a, w1, c21);
                    a = Vector512.Create(p3[c]); c30 = Avx512F.FusedMultiplyAdd(a, w0, c30); c31 = Avx512F.FusedMultiplyAdd(a, w1, c31);
                    a = Vector512.Create(p4[c]); c40 = Avx512F.FusedMultiplyAdd(a, w0, c40); c41 = Avx512F.FusedMultiplyAdd(a, w1, c41);
                    a = Vector512.Create(p5[c]); c50 = Avx512F.FusedMultiplyAdd(a, w0, c50); c51 = Avx512F.FusedMultiplyAdd(a, w1, c51);
                    a = Vector512.Create(p6[c]); c60 = Avx512F.FusedMultiplyAdd(a, w0, c60); c61 = Avx512F.FusedMultiplyAdd(a, w1, c61);
                    a = Vector512.Create(p7[c]); c70 = Avx512F.FusedMultiplyAdd(a, w0, c70); c71 = Avx512F.FusedMultiplyAdd(a, w1, c71);
                }
            }
        var f = Vector512.Create(floor);
        var s0 = Vector512.Load(scale); var s1 = Vector512.Load(scale + 16);
        var h0 = Vector512.Load(shift); var h1 = Vector512.Load(shift + 16);
        Store2(o0, c00, c01);
        if (valid > 1) Store2(o1, c10, c11);
        if (valid > 2) Store2(o2, c20, c21);
        if (valid > 3) Store2(o3, c30, c31);
        if (valid > 4) Store2(o4, c40, c41);
        if (valid > 5) Store2(o5, c50, c51);
        if (valid > 6) Store2(o6, c60, c61);
        if (valid > 7) Store2(o7, c70, c71);

        void Store2(float* o, Vector512<float> v0, Vector512<float> v1)
        {
            Vector512.Max(Avx512F.FusedMultiplyAdd(v0, s0, h0), f).Store(o);
            Vector512.Max(Avx512F.FusedMultiplyAdd(v1, s1, h1), f).Store(o + 16);
        }
    }

    /// <summary>4 pixels x 2 blocks of 16 channels: 8 zmm accumulators (a ragged last tile).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile512x2x4(float* w, float* b0, float* b1, float* b2, float* b3, int k, int channels, int rowStride, int pixelStride,
        float* scale, float* shift, float floor, float* o0, float* o1, float* o2, float* o3, int valid)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++)
            {
                long offset = (long)ky * rowStride + (long)kx * pixelStride;
                float* p0 = b0 + offset, p1 = b1 + offset, p2 = b2 + offset, p3 = b3 + offset;
                for (int c = 0; c < channels; c++, w += 32)
                {
                    var w0 = Vector512.Load(w); var w1 = Vector512.Load(w + 16);
                    var a = Vector512.Create(p0[c]); c00 = Avx512F.FusedMultiplyAdd(a, w0, c00); c01 = Avx512F.FusedMultiplyAdd(a, w1, c01);
                    a = Vector512.Create(p1[c]); c10 = Avx512F.FusedMultiplyAdd(a, w0, c10); c11 = Avx512F.FusedMultiplyAdd(a, w1, c11);
                    a = Vector512.Create(p2[c]); c20 = Avx512F.FusedMultiplyAdd(a, w0, c20); c21 = Avx512F.FusedMultiplyAdd(a, w1, c21);
                    a = Vector512.Create(p3[c]); c30 = Avx512F.FusedMultiplyAdd(a, w0, c30); c31 = Avx512F.FusedMultiplyAdd(a, w1, c31);
                }
            }
        var f = Vector512.Create(floor);
        var s0 = Vector512.Load(scale); var s1 = Vector512.Load(scale + 16);
        var h0 = Vector512.Load(shift); var h1 = Vector512.Load(shift + 16);
        Store2(o0, c00, c01);
        if (valid > 1) Store2(o1, c10, c11);
        if (valid > 2) Store2(o2, c20, c21);
        if (valid > 3) Store2(o3, c30, c31);

        void Store2(float* o, Vector512<float> v0, Vector512<float> v1)
        {
            Vector512.Max(Avx512F.FusedMultiplyAdd(v0, s0, h0), f).Store(o);
            Vector512.Max(Avx512F.FusedMultiplyAdd(v1, s1, h1), f).Store(o + 16);
        }
    }

    /// <summary>8 pixels x 1 block of 16 channels: 8 zmm accumulators (the 16-channel layers, few input channels).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile512x1x8(float* w, float* b0, float* b1, float* b2, float* b3, float* b4, float* b5, float* b6, float* b7,
        int k, int channels, int rowStride, int pixelStride, float* scale, float* shift, float floor,
        float* o0, float* o1, float* o2, float* o3, float* o4, float* o5, float* o6, float* o7, int valid)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++)
            {
                long offset = (long)ky * rowStride + (long)kx * pixelStride;
                float* p0 = b0 + offset, p1 = b1 + offset, p2 = b2 + offset, p3 = b3 + offset, p4 = b4 + offset, p5 = b5 + offset, p6 = b6 + offset, p7 = b7 + offset;
                for (int c = 0; c < channels; c++, w += 16)
                {
                    var w0 = Vector512.Load(w);
                    c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(p0[c]), w0, c0);
                    c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(p1[c]), w0, c1);
                    c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(p2[c]), w0, c2);
                    c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(p3[c]), w0, c3);
                    c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(p4[c]), w0, c4);
                    c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(p5[c]), w0, c5);
                    c6 = Avx512F.FusedMultiplyAdd(Vector512.Create(p6[c]), w0, c6);
                    c7 = Avx512F.FusedMultiplyAdd(Vector512.Create(p7[c]), w0, c7);
                }
            }
        var f = Vector512.Create(floor);
        var s = Vector512.Load(scale);
        var h = Vector512.Load(shift);
        Vector512.Max(Avx512F.FusedMultiplyAdd(c0, s, h), f).Store(o0);
        if (valid > 1) Vector512.Max(Avx512F.FusedMultiplyAdd(c1, s, h), f).Store(o1);
        if (valid > 2) Vector512.Max(Avx512F.FusedMultiplyAdd(c2, s, h), f).Store(o2);
        if (valid > 3) Vector512.Max(Avx512F.FusedMultiplyAdd(c3, s, h), f).Store(o3);
        if (valid > 4) Vector512.Max(Avx512F.FusedMultiplyAdd(c4, s, h), f).Store(o4);
        if (valid > 5) Vector512.Max(Avx512F.FusedMultiplyAdd(c5, s, h), f).Store(o5);
        if (valid > 6) Vector512.Max(Avx512F.FusedMultiplyAdd(c6, s, h), f).Store(o6);
        if (valid > 7) Vector512.Max(Avx512F.FusedMultiplyAdd(c7, s, h), f).Store(o7);
    }

    /// <summary>4 pixels x one block of 16 channels as two 8-float halves (AVX2): 8 ymm accumulators; the group's weights are <paramref name="group"/> apart per tap.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile256(float* w, int group, float* b0, float* b1, float* b2, float* b3, int k, int channels, int rowStride, int pixelStride,
        float* scale, float* shift, float floor, float* o0, float* o1, float* o2, float* o3, int valid)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++)
            {
                long offset = (long)ky * rowStride + (long)kx * pixelStride;
                float* p0 = b0 + offset, p1 = b1 + offset, p2 = b2 + offset, p3 = b3 + offset;
                for (int c = 0; c < channels; c++, w += group)
                {
                    var w0 = Vector256.Load(w); var w1 = Vector256.Load(w + 8);
                    var a = Vector256.Create(p0[c]); c00 = Fma.MultiplyAdd(a, w0, c00); c01 = Fma.MultiplyAdd(a, w1, c01);
                    a = Vector256.Create(p1[c]); c10 = Fma.MultiplyAdd(a, w0, c10); c11 = Fma.MultiplyAdd(a, w1, c11);
                    a = Vector256.Create(p2[c]); c20 = Fma.MultiplyAdd(a, w0, c20); c21 = Fma.MultiplyAdd(a, w1, c21);
                    a = Vector256.Create(p3[c]); c30 = Fma.MultiplyAdd(a, w0, c30); c31 = Fma.MultiplyAdd(a, w1, c31);
                }
            }
        var f = Vector256.Create(floor);
        var s0 = Vector256.Load(scale); var s1 = Vector256.Load(scale + 8);
        var h0 = Vector256.Load(shift); var h1 = Vector256.Load(shift + 8);
        Store2(o0, c00, c01);
        if (valid > 1) Store2(o1, c10, c11);
        if (valid > 2) Store2(o2, c20, c21);
        if (valid > 3) Store2(o3, c30, c31);

        void Store2(float* o, Vector256<float> v0, Vector256<float> v1)
        {
            Vector256.Max(Fma.MultiplyAdd(v0, s0, h0), f).Store(o);
            Vector256.Max(Fma.MultiplyAdd(v1, s1, h1), f).Store(o + 8);
        }
    }

    /// <summary>The AVX2 tile's loops in scalar code (CPUs without AVX2+FMA).</summary>
    static void TileScalar(float* w, int group, float* b0, float* b1, float* b2, float* b3, int k, int channels, int rowStride, int pixelStride,
        float* scale, float* shift, float floor, float* o0, float* o1, float* o2, float* o3, int valid)
    {
        float* sums = stackalloc float[4 * Block];
        new Span<float>(sums, 4 * Block).Clear();
        float** bases = stackalloc float*[4] { b0, b1, b2, b3 };
        float** outputs = stackalloc float*[4] { o0, o1, o2, o3 };
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++)
            {
                long offset = (long)ky * rowStride + (long)kx * pixelStride;
                for (int c = 0; c < channels; c++, w += group)
                    for (int j = 0; j < 4; j++)
                    {
                        float a = bases[j][offset + c];
                        for (int lane = 0; lane < Block; lane++) sums[j * Block + lane] += a * w[lane];
                    }
            }
        for (int j = 0; j < valid; j++)
            for (int lane = 0; lane < Block; lane++)
                outputs[j][lane] = MathF.Max(sums[j * Block + lane] * scale[lane] + shift[lane], floor);
    }

    /// <summary>
    /// The pooling twin of <see cref="ForwardPooled"/>: y[py, px, c] = max of x[2py + i, 2px + j, c] over i, j in {0, 1}, for pooled rows
    /// [rowStart, rowEnd), <paramref name="width"/> pooled columns and <paramref name="channels"/> channels.
    /// </summary>
    public static void MaxPool2x2Naive(ReadOnlySpan<float> x, int xRowStride, int xPixelStride, int channels, int width, int rowStart, int rowEnd,
        Span<float> y, int yRowStride, int yPixelStride)
    {
        for (int py = rowStart; py < rowEnd; py++)
            for (int px = 0; px < width; px++)
                for (int c = 0; c < channels; c++)
                {
                    int at = 2 * py * xRowStride + 2 * px * xPixelStride + c;
                    y[py * yRowStride + px * yPixelStride + c] = MathF.Max(MathF.Max(x[at], x[at + xPixelStride]),
                                                                          MathF.Max(x[at + xRowStride], x[at + xRowStride + xPixelStride]));
                }
    }
}

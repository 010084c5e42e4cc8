using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ongko.Kernels;

/// <summary>
/// Winograd F(2x2, 3x3) convolution (Lavin and Gray 2015) for 3x3 stride-1 layers: each 2x2 output tile is
/// Aᵀ [Σ_c (G g Gᵀ) ⊙ (Bᵀ d Bᵀ)] A over the 4x4 input patch d, so the multiplications become 16 GEMMs
/// M[ξ][OC, tiles] = U[ξ][OC, C] · V[ξ][C, tiles] with 16·C multiply-adds per tile and output channel instead
/// of im2col's 36·C (2.25x fewer). Transforms are exact in float except for rounding (no large constants).
/// <see cref="ForwardNaive"/> is the per-tile twin; the result equals <see cref="ConvolutionNaive.Forward"/> up to rounding.
/// </summary>
public static unsafe class Winograd
{
    /// <summary>True where this kernel computes the convolution: 3x3, stride 1, and AVX2 for the transforms.</summary>
    public static bool Supports(in ConvGeometry g) => g.Kernel == 3 && g.Stride == 1 && Avx2.IsSupported;

    /// <summary>Output tiles per image: ceil(OH/2) rows of ceil(OW/2) tiles.</summary>
    public static int TilesPerImage(in ConvGeometry g) => (g.OutputHeight + 1) / 2 * ((g.OutputWidth + 1) / 2);

    /// <summary>
    /// Row length of V and M for <paramref name="count"/> images: 16 spare floats (the transforms' 8-tile vectors and
    /// <see cref="WinogradProducts"/>' 16-tile vectors may overrun a row), never a multiple of 16 floats, so the 16 planes of V
    /// and M (C or OC rows apart) do not all fall on the same cache sets.
    /// </summary>
    public static int RowLength(in ConvGeometry g, int count)
    {
        int length = count * TilesPerImage(g) + 16;
        return length % 16 == 0 ? length + 4 : length;
    }

    /// <summary>Floats of the zero-padded plane the input transform reads from.</summary>
    public static int PaddedPlaneSize(in ConvGeometry g)
    {
        var (rows, columns) = PaddedPlane(g);
        return rows * columns;
    }

    /// <summary>Rows and row length of the padded plane: 2·tile rows + 2, and whole 8-tile vectors plus their 2-column overlap.</summary>
    static (int Rows, int Columns) PaddedPlane(in ConvGeometry g)
    {
        int tileRows = (g.OutputHeight + 1) / 2, tileColumns = (g.OutputWidth + 1) / 2;
        return (2 * tileRows + 2, 2 * ((tileColumns + 7) / 8 * 8) + 2 + 16);
    }

    /// <summary>U[ξ = 4i+j][oc, c] = (G g Gᵀ)[i, j] for each 3x3 filter g = weight[oc, c].</summary>
    /// <param name="weight">[OC, C, 3, 3]</param> <param name="u">[16, OC, C]</param>
    public static void TransformWeights(ReadOnlySpan<float> weight, int outChannels, int channels, Span<float> u) =>
        TransformWeights(weight, outChannels, channels, u, 0, outChannels);

    /// <summary>The same for the output channels [<paramref name="firstOutChannel"/>, <paramref name="endOutChannel"/>) only (the workers' shares).</summary>
    public static void TransformWeights(ReadOnlySpan<float> weight, int outChannels, int channels, Span<float> u, int firstOutChannel, int endOutChannel)
    {
        if (weight.Length < outChannels * channels * 9 || u.Length < 16 * outChannels * channels)
            throw new ArgumentException("Winograd weights: buffers too small");
        if (firstOutChannel < 0 || endOutChannel > outChannels || firstOutChannel > endOutChannel)
            throw new ArgumentException($"Winograd weights: output channels [{firstOutChannel}, {endOutChannel}) outside [0, {outChannels})");
        fixed (float* w = weight, uStart = u)
            TransformFilters(w, outChannels, channels, uStart, flipTranspose: false, firstOutChannel, endOutChannel);
    }

    /// <summary>
    /// U[ξ][at] = (G g Gᵀ)[ξ] for every filter g = weight[oc, c]: at = oc·C + c, or with <paramref name="flipTranspose"/> the filter rotated
    /// by 180° at c·OC + oc (the flipped, transposed filters δx's convolution needs), one filter at a time in registers; for the outer
    /// channels [<paramref name="outerStart"/>, <paramref name="outerEnd"/>): output channels, or input channels with <paramref name="flipTranspose"/>.
    /// </summary>
    internal static void TransformFilters(float* weight, int outChannels, int channels, float* u, bool flipTranspose, int outerStart, int outerEnd)
    {
        long plane = (long)outChannels * channels;
        int innerCount = flipTranspose ? outChannels : channels, filterStride = flipTranspose ? 9 * channels : 9;
        bool vectors = Gemm.Kernel >= GemmKernel.Avx2 && 7L * filterStride + 8 <= int.MaxValue;
        var lanes = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * filterStride;
        for (int outer = outerStart; outer < outerEnd; outer++)
        {
            int inner = 0;
            if (vectors)
                for (; inner + 8 <= innerCount; inner += 8)
                {
                    // 8 consecutive filters gathered, the same arithmetic as below in each lane (bit for bit)
                    int oc = flipTranspose ? inner : outer, c = flipTranspose ? outer : inner;
                    float* g = weight + ((long)oc * channels + c) * 9;
                    int f = flipTranspose ? 8 : 0, step = flipTranspose ? -1 : 1;   // the 180° rotation reads element 8 − k for k
                    var g00 = Avx2.GatherVector256(g + f, lanes, 4); var g01 = Avx2.GatherVector256(g + f + step, lanes, 4);
                    var g02 = Avx2.GatherVector256(g + f + 2 * step, lanes, 4); var g10 = Avx2.GatherVector256(g + f + 3 * step, lanes, 4);
                    var g11 = Avx2.GatherVector256(g + 4, lanes, 4); var g12 = Avx2.GatherVector256(g + f + 5 * step, lanes, 4);
                    var g20 = Avx2.GatherVector256(g + f + 6 * step, lanes, 4); var g21 = Avx2.GatherVector256(g + f + 7 * step, lanes, 4);
                    var g22 = Avx2.GatherVector256(g + f + 8 * step, lanes, 4);
                    var half = Vector256.Create(0.5f);
                    var t10 = half * (g00 + g10 + g20); var t11 = half * (g01 + g11 + g21); var t12 = half * (g02 + g12 + g22);
                    var t20 = half * (g00 - g10 + g20); var t21 = half * (g01 - g11 + g21); var t22 = half * (g02 - g12 + g22);
                    float* at = u + (outer * (long)innerCount + inner);
                    StoreFilterRows(at, plane, 0, g00, g01, g02);
                    StoreFilterRows(at, plane, 4, t10, t11, t12);
                    StoreFilterRows(at, plane, 8, t20, t21, t22);
                    StoreFilterRows(at, plane, 12, g20, g21, g22);
                }
            for (; inner < innerCount; inner++)
            {
                int oc = flipTranspose ? inner : outer, c = flipTranspose ? outer : inner;
                float* g = weight + ((long)oc * channels + c) * 9;
                float g00 = g[0], g01 = g[1], g02 = g[2], g10 = g[3], g11 = g[4], g12 = g[5], g20 = g[6], g21 = g[7], g22 = g[8];
                if (flipTranspose)
                    (g00, g01, g02, g10, g12, g20, g21, g22) = (g22, g21, g20, g12, g10, g02, g01, g00);
                // t = G g: rows g0, (g0 + g1 + g2)/2, (g0 − g1 + g2)/2, g2 (per column)
                float t10 = 0.5f * (g00 + g10 + g20), t11 = 0.5f * (g01 + g11 + g21), t12 = 0.5f * (g02 + g12 + g22);
                float t20 = 0.5f * (g00 - g10 + g20), t21 = 0.5f * (g01 - g11 + g21), t22 = 0.5f * (g02 - g12 + g22);
                float* at = u + (outer * (long)(flipTranspose ? outChannels : channels) + inner);
                StoreFilterRow(at, plane, 0, g00, g01, g02);
                StoreFilterRow(at, plane, 4, t10, t11, t12);
                StoreFilterRow(at, plane, 8, t20, t21, t22);
                StoreFilterRow(at, plane, 12, g20, g21, g22);
            }
        }
    }

    /// <summary><see cref="StoreFilterRow"/> for 8 consecutive filters.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreFilterRows(float* at, long plane, int ξ, Vector256<float> t0, Vector256<float> t1, Vector256<float> t2)
    {
        var half = Vector256.Create(0.5f);
        Vector256.Store(t0, at + ξ * plane);
        Vector256.Store(half * (t0 + t1 + t2), at + (ξ + 1) * plane);
        Vector256.Store(half * (t0 - t1 + t2), at + (ξ + 2) * plane);
        Vector256.Store(t2, at + (ξ + 3) * plane);
    }

    /// <summary>u = t Gᵀ for one row t of G g: U[ξ], U[ξ+1], U[ξ+2], U[ξ+3] at <paramref name="at"/>, planes <paramref name="plane"/> apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreFilterRow(float* at, long plane, int ξ, float t0, float t1, float t2)
    {
        at[ξ * plane] = t0;
        at[(ξ + 1) * plane] = 0.5f * (t0 + t1 + t2);
        at[(ξ + 2) * plane] = 0.5f * (t0 - t1 + t2);
        at[(ξ + 3) * plane] = t2;
    }

    /// <summary>
    /// The per-tile twin of <see cref="Forward"/>, in double: for every 2x2 output tile and output channel,
    /// Aᵀ [Σ_c (G g Gᵀ) ⊙ (Bᵀ d B)] A with the three matrices written out, d read with zero padding.
    /// </summary>
    /// <param name="x">[N, C, H, W]</param> <param name="weight">[OC, C, 3, 3]</param> <param name="bias">[OC] or empty</param>
    /// <param name="y">[N, OC, OH, OW]</param>
    public static void ForwardNaive(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        int batch, int outChannels, in ConvGeometry g, Span<float> y)
    {
        double[,] gm = { { 1, 0, 0 }, { 0.5, 0.5, 0.5 }, { 0.5, -0.5, 0.5 }, { 0, 0, 1 } };
        double[,] aT = { { 1, 1, 1, 0 }, { 0, 1, -1, -1 } };
        int channels = g.Channels, outputHeight = g.OutputHeight, outputWidth = g.OutputWidth;
        var u = new double[outChannels, channels, 4, 4];
        for (int oc = 0; oc < outChannels; oc++)
            for (int c = 0; c < channels; c++)
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 4; j++)
                    {
                        double sum = 0;
                        for (int a = 0; a < 3; a++)
                            for (int b = 0; b < 3; b++)
                                sum += gm[i, a] * weight[((oc * channels + c) * 3 + a) * 3 + b] * gm[j, b];
                        u[oc, c, i, j] = sum;
                    }
        var v = new double[channels, 4, 4];
        var m = new double[4, 4];
        for (int n = 0; n < batch; n++)
            for (int tileRow = 0; tileRow < (outputHeight + 1) / 2; tileRow++)
                for (int tileColumn = 0; tileColumn < (outputWidth + 1) / 2; tileColumn++)
                {
                    InputTileNaive(x, n, tileRow, tileColumn, g, v);
                    for (int oc = 0; oc < outChannels; oc++)
                    {
                        for (int i = 0; i < 4; i++)
                            for (int j = 0; j < 4; j++)
                            {
                                double sum = 0;
                                for (int c = 0; c < channels; c++) sum += u[oc, c, i, j] * v[c, i, j];
                                m[i, j] = sum;
                            }
                        for (int r = 0; r < 2; r++)
                            for (int s = 0; s < 2; s++)
                            {
                                int row = 2 * tileRow + r, column = 2 * tileColumn + s;
                                if (row >= outputHeight || column >= outputWidth) continue;
                                double sum = bias.IsEmpty ? 0 : bias[oc];
                                for (int a = 0; a < 4; a++)
                                    for (int b = 0; b < 4; b++) sum += aT[r, a] * m[a, b] * aT[s, b];
                                y[((n * outChannels + oc) * outputHeight + row) * outputWidth + column] = (float)sum;
                            }
                    }
                }
    }

    /// <summary>v[c] = Bᵀ d B for the 4x4 input patch d of tile (tileRow, tileColumn) of image n, every channel, read with zero padding (in double).</summary>
    internal static void InputTileNaive(ReadOnlySpan<float> x, int n, int tileRow, int tileColumn, in ConvGeometry g, double[,,] v)
    {
        double[,] bT = { { 1, 0, -1, 0 }, { 0, 1, 1, 0 }, { 0, -1, 1, 0 }, { 0, 1, 0, -1 } };
        for (int c = 0; c < g.Channels; c++)
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                {
                    double sum = 0;
                    for (int a = 0; a < 4; a++)
                        for (int b = 0; b < 4; b++)
                        {
                            int row = 2 * tileRow - g.Padding + a, column = 2 * tileColumn - g.Padding + b;
                            if (row < 0 || row >= g.Height || column < 0 || column >= g.Width) continue;
                            sum += bT[i, a] * x[((n * g.Channels + c) * g.Height + row) * g.Width + column] * bT[j, b];
                        }
                    v[c, i, j] = sum;
                }
    }

    /// <summary>
    /// y = activation(W ∗ x + b) for <paramref name="count"/> images, or activation(scale ⊙ (W ∗ x) + b) per output
    /// channel when <paramref name="scale"/> is given (a batch normalisation folded in; b is then its shift). With
    /// <paramref name="maxPool"/> a 2x2 stride-2 max pooling follows in the same pass (each output tile is one window):
    /// y is then [count, OC, OH/2, OW/2] (rounded down, as MaxPool2D).
    /// </summary>
    /// <param name="x">[count, C, H, W]</param> <param name="u">[16, OC, C] from <see cref="TransformWeights(ReadOnlySpan{float}, int, int, Span{float})"/></param>
    /// <param name="bias">[OC] or empty</param> <param name="scale">[OC] or empty</param>
    /// <param name="v">work: [16, C, <see cref="RowLength"/>]</param> <param name="m">work: [16, OC, <see cref="RowLength"/>]</param>
    /// <param name="padded">work: <see cref="PaddedPlaneSize"/> floats</param>
    /// <param name="y">[count, OC, OH, OW], or [count, OC, OH/2, OW/2] with <paramref name="maxPool"/></param>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> u, ReadOnlySpan<float> bias, ReadOnlySpan<float> scale,
        int count, int outChannels, in ConvGeometry g, Activation activation,
        Span<float> v, Span<float> m, Span<float> padded, Span<float> y, bool maxPool = false)
    {
        if (!Supports(g)) throw new ArgumentException($"Winograd F(2x2, 3x3): needs a 3x3 stride-1 convolution and AVX2 (kernel {g.Kernel}, stride {g.Stride})");
        int channels = g.Channels, tiles = TilesPerImage(g), rowLength = RowLength(g, count), imageSize = channels * g.InputPixels;
        int outputPixels = maxPool ? g.OutputHeight / 2 * (g.OutputWidth / 2) : g.OutputPixels;
        if (x.Length < count * imageSize || u.Length < 16 * outChannels * channels || v.Length < 16 * channels * rowLength
            || m.Length < 16 * outChannels * rowLength || padded.Length < PaddedPlaneSize(g) || y.Length < count * outChannels * outputPixels
            || (!bias.IsEmpty && bias.Length < outChannels) || (!scale.IsEmpty && scale.Length < outChannels))
            throw new ArgumentException("Winograd F(2x2, 3x3): buffers too small for the geometry");
        padded.Clear();   // the border stays zero: only the interior is rewritten per plane
        fixed (float* xStart = x, vStart = v, paddedStart = padded)
            for (int i = 0; i < count; i++)
                for (int c = 0; c < channels; c++)
                    TransformInput(xStart + (long)i * imageSize + (long)c * g.InputPixels, g, paddedStart,
                                   vStart + (long)c * rowLength + (long)i * tiles, (long)channels * rowLength);
        // M[ξ][OC, tiles] = U[ξ][OC, C] · V[ξ][C, tiles]
        WinogradProducts.Forward(u, v, outChannels, channels, count * tiles, rowLength, m);
        fixed (float* mStart = m, yStart = y)
        {
            float* yEnd = yStart + (long)count * outChannels * outputPixels;
            for (int i = 0; i < count; i++)
                for (int oc = 0; oc < outChannels; oc++)
                {
                    float factor = scale.IsEmpty ? 1f : scale[oc], shift = bias.IsEmpty ? 0f : bias[oc];
                    float* mPlane = mStart + (long)oc * rowLength + (long)i * tiles, yPlane = yStart + ((long)i * outChannels + oc) * outputPixels;
                    if (maxPool) TransformOutputMaxPooled(mPlane, (long)outChannels * rowLength, g, factor, shift, activation, yPlane, yEnd);
                    else TransformOutput(mPlane, (long)outChannels * rowLength, g, factor, shift, activation, yPlane, yEnd);
                }
        }
    }

    /// <summary>
    /// V[ξ][tile] = (Bᵀ d B)[ξ] for every tile of one input plane, 8 tiles per vector; a vector that runs past the
    /// end of a tile row writes into the next row's place (rewritten after) or the row's 8 spare floats.
    /// </summary>
    internal static void TransformInput(float* plane, in ConvGeometry g, float* padded, float* v, long ξStride)
    {
        int tileRows = (g.OutputHeight + 1) / 2, tileColumns = (g.OutputWidth + 1) / 2;
        var (_, stride) = PaddedPlane(g);
        CopyPlane(plane, g.Height, g.Width, padded + g.Padding * stride + g.Padding, stride);   // the plane inside a zero border of Padding
        for (int tileRow = 0; tileRow < tileRows; tileRow++)
        {
            float* top = padded + 2 * tileRow * stride;
            for (int tileColumn = 0; tileColumn < tileColumns; tileColumn += 8)
            {
                float* p = top + 2 * tileColumn;
                // d[a][b]: input rows a = 0..3, columns 2t+b of the 8 tiles t
                Vector256<float> d00, d01, d02, d03, d10, d11, d12, d13, d20, d21, d22, d23, d30, d31, d32, d33;
                (d00, d01) = Deinterleave(p); (d02, d03) = Deinterleave(p + 2); p += stride;
                (d10, d11) = Deinterleave(p); (d12, d13) = Deinterleave(p + 2); p += stride;
                (d20, d21) = Deinterleave(p); (d22, d23) = Deinterleave(p + 2); p += stride;
                (d30, d31) = Deinterleave(p); (d32, d33) = Deinterleave(p + 2);
                // Bᵀ d: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3
                var r00 = d00 - d20; var r01 = d01 - d21; var r02 = d02 - d22; var r03 = d03 - d23;
                var r10 = d10 + d20; var r11 = d11 + d21; var r12 = d12 + d22; var r13 = d13 + d23;
                var r20 = d20 - d10; var r21 = d21 - d11; var r22 = d22 - d12; var r23 = d23 - d13;
                var r30 = d10 - d30; var r31 = d11 - d31; var r32 = d12 - d32; var r33 = d13 - d33;
                // (Bᵀ d) B: columns the same way
                float* at = v + tileRow * tileColumns + tileColumn;
                StoreRow(at, ξStride, 0, r00, r01, r02, r03);
                StoreRow(at, ξStride, 4, r10, r11, r12, r13);
                StoreRow(at, ξStride, 8, r20, r21, r22, r23);
                StoreRow(at, ξStride, 12, r30, r31, r32, r33);
            }
        }
    }

    /// <summary>
    /// The <paramref name="height"/> x <paramref name="width"/> plane into rows <paramref name="stride"/> apart: rows of 4 to 24 floats as
    /// two or three overlapping vectors each, others by <see cref="CopyRow"/> (its per-row loop cost a third of a 14x14 plane's input
    /// transform: 78 → 68 ns per plane).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void CopyPlane(float* plane, int height, int width, float* destination, int stride)
    {
        if (width >= 8 && width <= 16)
        {
            for (int row = 0; row < height; row++, plane += width, destination += stride)
            {
                Vector256.Store(Vector256.Load(plane), destination);
                Vector256.Store(Vector256.Load(plane + width - 8), destination + width - 8);
            }
            return;
        }
        if (width > 16 && width <= 24)
        {
            for (int row = 0; row < height; row++, plane += width, destination += stride)
            {
                Vector256.Store(Vector256.Load(plane), destination);
                Vector256.Store(Vector256.Load(plane + 8), destination + 8);
                Vector256.Store(Vector256.Load(plane + width - 8), destination + width - 8);
            }
            return;
        }
        if (width >= 4 && width < 8)
        {
            for (int row = 0; row < height; row++, plane += width, destination += stride)
            {
                Vector128.Store(Vector128.Load(plane), destination);
                Vector128.Store(Vector128.Load(plane + width - 4), destination + width - 4);
            }
            return;
        }
        for (int row = 0; row < height; row++) CopyRow(plane + row * width, destination + row * stride, width);
    }

    /// <summary>destination[0..length) = source[0..length) by whole vectors (the last one overlapping), without a call per row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void CopyRow(float* source, float* destination, int length)
    {
        if (length >= 8)
        {
            int i = 0;
            for (; i + 8 <= length; i += 8) Vector256.Store(Vector256.Load(source + i), destination + i);
            if (i < length) Vector256.Store(Vector256.Load(source + length - 8), destination + length - 8);
        }
        else if (length >= 4)
        {
            Vector128.Store(Vector128.Load(source), destination);
            Vector128.Store(Vector128.Load(source + length - 4), destination + length - 4);
        }
        else
            for (int i = 0; i < length; i++) destination[i] = source[i];
    }

    static void StoreRow(float* at, long ξStride, int ξ, Vector256<float> c0, Vector256<float> c1, Vector256<float> c2, Vector256<float> c3)
    {
        Vector256.Store(c0 - c2, at + ξ * ξStride);
        Vector256.Store(c1 + c2, at + (ξ + 1) * ξStride);
        Vector256.Store(c2 - c1, at + (ξ + 2) * ξStride);
        Vector256.Store(c1 - c3, at + (ξ + 3) * ξStride);
    }

    /// <summary>Columns 0, 2, .., 14 and 1, 3, .., 15 of 16 floats at <paramref name="p"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector256<float> Even, Vector256<float> Odd) Deinterleave(float* p)
    {
        var low = Avx.LoadVector256(p);
        var high = Avx.LoadVector256(p + 8);
        var even = Avx.Shuffle(low, high, 0b10_00_10_00);   // a0 a2 b0 b2 | a4 a6 b4 b6
        var odd = Avx.Shuffle(low, high, 0b11_01_11_01);
        return (Avx2.Permute4x64(even.AsDouble(), 0b11_01_10_00).AsSingle(), Avx2.Permute4x64(odd.AsDouble(), 0b11_01_10_00).AsSingle());
    }

    /// <summary>
    /// y = activation(factor · (Aᵀ m A) + shift) for every tile of one output plane, 8 tiles per vector, the 2x2 tiles
    /// interleaved into output rows. A vector store past the end of a row lands on later rows (rewritten after: the
    /// 8-tile chunks of a tile row run last to first); one past <paramref name="yEnd"/> is written element by element instead.
    /// </summary>
    static void TransformOutput(float* m, long ξStride, in ConvGeometry g, float factor, float shift, Activation activation, float* y, float* yEnd)
    {
        int outputHeight = g.OutputHeight, outputWidth = g.OutputWidth, tileRows = (outputHeight + 1) / 2, tileColumns = (outputWidth + 1) / 2;
        var vFactor = Vector256.Create(factor);
        var vShift = Vector256.Create(shift);
        var floor = Vector256.Create(activation == Activation.ReLU ? 0f : float.NegativeInfinity);
        int lastChunk = (tileColumns - 1) / 8 * 8;
        for (int tileRow = 0; tileRow < tileRows; tileRow++)
            // The last 8 tiles first: their stores may run into the next output row, which the first 8 then rewrite.
            for (int tileColumn = lastChunk; tileColumn >= 0; tileColumn -= 8)
            {
                var (y00, y01, y10, y11) = OutputTiles(m + tileRow * tileColumns + tileColumn, ξStride, vFactor, vShift);
                int row = 2 * tileRow, column = 2 * tileColumn, valid = Math.Min(16, outputWidth - column);
                StoreOutputRow(y + row * outputWidth + column, valid, yEnd, Vector256.Max(y00, floor), Vector256.Max(y01, floor));
                if (row + 1 < outputHeight)
                    StoreOutputRow(y + (row + 1) * outputWidth + column, valid, yEnd, Vector256.Max(y10, floor), Vector256.Max(y11, floor));
            }
    }

    /// <summary>
    /// <see cref="TransformOutput"/> followed by 2x2 stride-2 max pooling: the maximum of each whole tile (tiles that
    /// reach past the output's last row or column are the windows pooling drops). Stores run past a row as there.
    /// </summary>
    static void TransformOutputMaxPooled(float* m, long ξStride, in ConvGeometry g, float factor, float shift, Activation activation, float* y, float* yEnd)
    {
        int pooledHeight = g.OutputHeight / 2, pooledWidth = g.OutputWidth / 2, tileColumns = (g.OutputWidth + 1) / 2;
        if (pooledWidth == 0) return;
        var vFactor = Vector256.Create(factor);
        var vShift = Vector256.Create(shift);
        var floor = Vector256.Create(activation == Activation.ReLU ? 0f : float.NegativeInfinity);
        int lastChunk = (pooledWidth - 1) / 8 * 8;
        for (int tileRow = 0; tileRow < pooledHeight; tileRow++)
            for (int tileColumn = lastChunk; tileColumn >= 0; tileColumn -= 8)
            {
                var (y00, y01, y10, y11) = OutputTiles(m + tileRow * tileColumns + tileColumn, ξStride, vFactor, vShift);
                var pooled = Vector256.Max(Vector256.Max(Vector256.Max(y00, y01), Vector256.Max(y10, y11)), floor);
                float* at = y + tileRow * pooledWidth + tileColumn;
                if (at + 8 <= yEnd) Vector256.Store(pooled, at);
                else
                    for (int i = 0; i < Math.Min(8, pooledWidth - tileColumn); i++) at[i] = pooled.GetElement(i);
            }
    }

    /// <summary>factor · (Aᵀ m A) + shift for 8 tiles at <paramref name="p"/>: the tiles' 4 outputs (row, column) before the activation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector256<float> Y00, Vector256<float> Y01, Vector256<float> Y10, Vector256<float> Y11) OutputTiles(float* p, long ξStride,
        Vector256<float> factor, Vector256<float> shift)
    {
        // Aᵀ m: rows m0 + m1 + m2 and m1 - m2 - m3; then the same on the columns
        var m1 = Load4(p, ξStride, 4);
        var m2 = Load4(p, ξStride, 8);
        var m0 = Load4(p, ξStride, 0);
        var a0 = (m0.C0 + m1.C0 + m2.C0, m0.C1 + m1.C1 + m2.C1, m0.C2 + m1.C2 + m2.C2, m0.C3 + m1.C3 + m2.C3);
        var m3 = Load4(p, ξStride, 12);
        var a1 = (m1.C0 - m2.C0 - m3.C0, m1.C1 - m2.C1 - m3.C1, m1.C2 - m2.C2 - m3.C2, m1.C3 - m2.C3 - m3.C3);
        return ((a0.Item1 + a0.Item2 + a0.Item3) * factor + shift, (a0.Item2 - a0.Item3 - a0.Item4) * factor + shift,
                (a1.Item1 + a1.Item2 + a1.Item3) * factor + shift, (a1.Item2 - a1.Item3 - a1.Item4) * factor + shift);
    }

    static (Vector256<float> C0, Vector256<float> C1, Vector256<float> C2, Vector256<float> C3) Load4(float* p, long ξStride, int ξ) =>
        (Vector256.Load(p + ξ * ξStride), Vector256.Load(p + (ξ + 1) * ξStride), Vector256.Load(p + (ξ + 2) * ξStride), Vector256.Load(p + (ξ + 3) * ξStride));

    /// <summary>Interleaves even (s = 0) and odd (s = 1) output columns of 8 tiles into 16 floats at <paramref name="at"/>; <paramref name="valid"/> of them belong to the row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreOutputRow(float* at, int valid, float* yEnd, Vector256<float> even, Vector256<float> odd)
    {
        var low = Avx.UnpackLow(even, odd);    // e0 o0 e1 o1 | e4 o4 e5 o5
        var high = Avx.UnpackHigh(even, odd);  // e2 o2 e3 o3 | e6 o6 e7 o7
        var first = Avx.Permute2x128(low, high, 0x20);
        var second = Avx.Permute2x128(low, high, 0x31);
        if (at + 16 <= yEnd)
        {
            Avx.Store(at, first);
            Avx.Store(at + 8, second);
            return;
        }
        StoreOutputRowEnd(at, valid, first, second);
    }

    /// <summary>The first <paramref name="valid"/> of 16 floats at the end of y, element by element (kept out of line: it needs a stack buffer).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    static void StoreOutputRowEnd(float* at, int valid, Vector256<float> first, Vector256<float> second)
    {
        float* spill = stackalloc float[16];
        Avx.Store(spill, first);
        Avx.Store(spill + 8, second);
        for (int i = 0; i < valid; i++) at[i] = spill[i];
    }
}

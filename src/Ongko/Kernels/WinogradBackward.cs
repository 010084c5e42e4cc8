using System.Runtime.Intrinsics;

namespace Ongko.Kernels;

/// <summary>
/// The training backward pass of a 3x3 stride-1 convolution by Winograd F(2x2, 3x3), the adjoint of <see cref="Winograd.Forward"/>:
/// <list type="bullet">
/// <item>weight gradient: with V[ξ] = (Bᵀ d B)[ξ] of the input tiles (as the forward pass) and δM[ξ] = (A δy Aᵀ)[ξ] of the
///   2x2 output-gradient tiles, δU[ξ][OC, C] = Σ_tiles δM[ξ][OC, tiles] · V[ξ][C, tiles]ᵀ (16 GEMMs, 16 multiply-adds per
///   tile instead of im2col's 36) and δg = Gᵀ δU G per filter (<see cref="FinishWeightGradient"/>, once per batch);</item>
/// <item>input gradient: δx is the convolution of δy with the filters flipped and transposed (W̃[c, oc] = W[oc, c] rotated by
///   180°) at padding 2 − p, the same size as x at stride 1, which <see cref="Winograd.Forward"/> computes
///   (<see cref="InputGradientGeometry"/>, <see cref="TransformFlippedWeights(ReadOnlySpan{float}, int, int, Span{float})"/>).</item>
/// </list>
/// <see cref="WeightGradientNaive"/> is the per-tile twin; both equal <see cref="ConvolutionNaive.Backward"/> up to rounding.
/// </summary>
public static unsafe class WinogradBackward
{
    /// <summary>True where this backward pass applies: <see cref="Winograd.Supports"/> and padding at most 2 (δx's padding 2 − p ≥ 0).</summary>
    public static bool Supports(in ConvGeometry g) => Winograd.Supports(g) && g.Padding <= 2;

    /// <summary>
    /// True when the weight gradient by Winograd beats im2col + GEMM: always where <see cref="WinogradProducts"/>' AVX-512 blocks run
    /// (measured, numta28-best's 64→128 at 7x7, whose 16 tiles compute 64 outputs for 49: backward 12.0 → 9.6 ms per batch of 128,
    /// thread CPU), else for even output sizes only, which the 2x2 tiles cover exactly (with the GEMM products: 64→64 at 14x14 11.4 vs
    /// 13.2 ms; 64→128 at 7x7 8.3 vs 6.6 ms). δx by Winograd pays at both.
    /// </summary>
    public static bool WeightGradientPays(in ConvGeometry g, int outChannels) =>
        WinogradProducts.FastWeightGradient(outChannels, g.Channels) || (g.OutputHeight % 2 == 0 && g.OutputWidth % 2 == 0);

    /// <summary>The convolution that computes δx: OC input channels of the output's size, padding 2 − p; its output is x's size.</summary>
    public static ConvGeometry InputGradientGeometry(in ConvGeometry g, int outChannels) =>
        new(outChannels, g.OutputHeight, g.OutputWidth, 3, 1, 2 - g.Padding);

    /// <summary>Ũ = Winograd's U of the flipped, transposed filters W̃[c, oc, a, b] = W[oc, c, 2 − a, 2 − b].</summary>
    /// <param name="weight">[OC, C, 3, 3]</param> <param name="u">[16, C, OC]</param>
    public static void TransformFlippedWeights(ReadOnlySpan<float> weight, int outChannels, int channels, Span<float> u) =>
        TransformFlippedWeights(weight, outChannels, channels, u, 0, channels);

    /// <summary>The same for the input channels [<paramref name="firstChannel"/>, <paramref name="endChannel"/>) only (Ũ's rows; the workers' shares).</summary>
    public static void TransformFlippedWeights(ReadOnlySpan<float> weight, int outChannels, int channels, Span<float> u, int firstChannel, int endChannel)
    {
        if (weight.Length < outChannels * channels * 9 || u.Length < 16 * outChannels * channels)
            throw new ArgumentException("Winograd flipped weights: buffers too small");
        if (firstChannel < 0 || endChannel > channels || firstChannel > endChannel)
            throw new ArgumentException($"Winograd flipped weights: channels [{firstChannel}, {endChannel}) outside [0, {channels})");
        fixed (float* w = weight, uStart = u)
            Winograd.TransformFilters(w, outChannels, channels, uStart, flipTranspose: true, firstChannel, endChannel);
    }

    /// <summary>
    /// The per-tile twin of <see cref="WeightGradient"/> + <see cref="FinishWeightGradient"/>, in double: for every tile,
    /// δg += Gᵀ [(A δy Aᵀ) ⊙ (Bᵀ d B)] G with the matrices written out, d read with zero padding, δy zero past the output.
    /// </summary>
    /// <param name="x">[N, C, H, W]</param> <param name="δy">[N, OC, OH, OW]</param> <param name="δweight">[OC, C, 3, 3] (overwritten)</param>
    public static void WeightGradientNaive(ReadOnlySpan<float> x, ReadOnlySpan<float> δy, int batch, int outChannels, in ConvGeometry g,
        Span<float> δweight)
    {
        double[,] gm = { { 1, 0, 0 }, { 0.5, 0.5, 0.5 }, { 0.5, -0.5, 0.5 }, { 0, 0, 1 } };
        double[,] aT = { { 1, 1, 1, 0 }, { 0, 1, -1, -1 } };
        int channels = g.Channels, outputHeight = g.OutputHeight, outputWidth = g.OutputWidth;
        var δu = new double[outChannels, channels, 4, 4];
        var v = new double[channels, 4, 4];
        var δm = new double[4, 4];
        for (int n = 0; n < batch; n++)
            for (int tileRow = 0; tileRow < (outputHeight + 1) / 2; tileRow++)
                for (int tileColumn = 0; tileColumn < (outputWidth + 1) / 2; tileColumn++)
                {
                    Winograd.InputTileNaive(x, n, tileRow, tileColumn, g, v);
                    for (int oc = 0; oc < outChannels; oc++)
                    {
                        for (int i = 0; i < 4; i++)
                            for (int j = 0; j < 4; j++)
                            {
                                double sum = 0;   // (A δy Aᵀ)[i, j], A = (Aᵀ)ᵀ
                                for (int r = 0; r < 2; r++)
                                    for (int s = 0; s < 2; s++)
                                    {
                                        int row = 2 * tileRow + r, column = 2 * tileColumn + s;
                                        if (row >= outputHeight || column >= outputWidth) continue;
                                        sum += aT[r, i] * δy[((n * outChannels + oc) * outputHeight + row) * outputWidth + column] * aT[s, j];
                                    }
                                δm[i, j] = sum;
                            }
                        for (int c = 0; c < channels; c++)
                            for (int i = 0; i < 4; i++)
                                for (int j = 0; j < 4; j++) δu[oc, c, i, j] += δm[i, j] * v[c, i, j];
                    }
                }
        for (int oc = 0; oc < outChannels; oc++)
            for (int c = 0; c < channels; c++)
                for (int a = 0; a < 3; a++)
                    for (int b = 0; b < 3; b++)
                    {
                        double sum = 0;   // (Gᵀ δU G)[a, b]
                        for (int i = 0; i < 4; i++)
                            for (int j = 0; j < 4; j++) sum += gm[i, a] * δu[oc, c, i, j] * gm[j, b];
                        δweight[((oc * channels + c) * 3 + a) * 3 + b] = (float)sum;
                    }
    }

    /// <summary>Floats of the zero-padded δy plane <see cref="WeightGradient"/> reads from: whole tiles, 8-tile vectors and their overrun.</summary>
    public static int PaddedGradientPlaneSize(in ConvGeometry g)
    {
        var (rows, columns) = PaddedGradientPlane(g);
        return rows * columns;
    }

    static (int Rows, int Columns) PaddedGradientPlane(in ConvGeometry g)
    {
        int tileRows = (g.OutputHeight + 1) / 2, tileColumns = (g.OutputWidth + 1) / 2;
        return (2 * tileRows, 2 * ((tileColumns + 7) / 8 * 8) + 16);
    }

    /// <summary>
    /// δU[ξ][OC, C] (+)= Σ over the tiles of <paramref name="count"/> images of δM[ξ] · V[ξ]ᵀ: the weight gradient in
    /// Winograd's domain (<see cref="FinishWeightGradient"/> maps it back to 3x3 filters once the batch is summed).
    /// </summary>
    /// <param name="x">[count, C, H, W]</param> <param name="δy">[count, OC, OH, OW] (already masked by an activation's derivative)</param>
    /// <param name="v">work: [16, C, <see cref="Winograd.RowLength"/>]</param> <param name="δm">work: [16, OC, <see cref="Winograd.RowLength"/>]</param>
    /// <param name="padded">work: <see cref="Winograd.PaddedPlaneSize"/> floats</param>
    /// <param name="paddedGradient">work: <see cref="PaddedGradientPlaneSize"/> floats</param>
    /// <param name="δu">[16, OC, C]: written, or added to with <paramref name="accumulate"/></param>
    public static void WeightGradient(ReadOnlySpan<float> x, ReadOnlySpan<float> δy, int count, int outChannels, in ConvGeometry g,
        Span<float> v, Span<float> δm, Span<float> padded, Span<float> paddedGradient, Span<float> δu, bool accumulate)
    {
        if (!Winograd.Supports(g)) throw new ArgumentException($"Winograd F(2x2, 3x3): needs a 3x3 stride-1 convolution and AVX2 (kernel {g.Kernel}, stride {g.Stride})");
        int channels = g.Channels, tiles = Winograd.TilesPerImage(g), rowLength = Winograd.RowLength(g, count);
        int imageSize = channels * g.InputPixels, outputSize = outChannels * g.OutputPixels;
        if (x.Length < count * imageSize || δy.Length < count * outputSize || v.Length < 16 * channels * rowLength
            || δm.Length < 16 * outChannels * rowLength || padded.Length < Winograd.PaddedPlaneSize(g)
            || paddedGradient.Length < PaddedGradientPlaneSize(g) || δu.Length < 16 * outChannels * channels)
            throw new ArgumentException("Winograd weight gradient: buffers too small for the geometry");
        padded.Clear();            // borders stay zero: only the interiors are rewritten per plane
        paddedGradient.Clear();
        fixed (float* xStart = x, δyStart = δy, vStart = v, δmStart = δm, paddedStart = padded, paddedGradientStart = paddedGradient)
            for (int i = 0; i < count; i++)
            {
                for (int c = 0; c < channels; c++)
                    Winograd.TransformInput(xStart + (long)i * imageSize + (long)c * g.InputPixels, g, paddedStart,
                                            vStart + (long)c * rowLength + (long)i * tiles, (long)channels * rowLength);
                for (int oc = 0; oc < outChannels; oc++)
                    TransformOutputGradient(δyStart + (long)i * outputSize + (long)oc * g.OutputPixels, g, paddedGradientStart,
                                            δmStart + (long)oc * rowLength + (long)i * tiles, (long)outChannels * rowLength);
            }
        // δU[ξ][OC, C] (+)= δM[ξ][OC, tiles] · V[ξ][C, tiles]ᵀ
        WinogradProducts.WeightGradient(δm, v, outChannels, channels, count * tiles, rowLength, δu, accumulate);
    }

    /// <summary>
    /// δM[ξ][tile] = (A δy Aᵀ)[ξ] for every 2x2 tile of one output-gradient plane, 8 tiles per vector (stores past a tile
    /// row land where the next row or image is written after, or in the row's 16 spare floats, as the input transform's).
    /// </summary>
    static void TransformOutputGradient(float* plane, in ConvGeometry g, float* padded, float* δm, long ξStride)
    {
        int tileRows = (g.OutputHeight + 1) / 2, tileColumns = (g.OutputWidth + 1) / 2, outputWidth = g.OutputWidth;
        var (_, stride) = PaddedGradientPlane(g);
        Winograd.CopyPlane(plane, g.OutputHeight, outputWidth, padded, stride);   // zero past the last row and column: those outputs do not exist
        for (int tileRow = 0; tileRow < tileRows; tileRow++)
        {
            float* top = padded + 2 * tileRow * stride;
            for (int tileColumn = 0; tileColumn < tileColumns; tileColumn += 8)
            {
                float* p = top + 2 * tileColumn;
                var (y00, y01) = Winograd.Deinterleave(p);            // tile row 0: columns 0 and 1 of 8 tiles
                var (y10, y11) = Winograd.Deinterleave(p + stride);   // tile row 1
                // A δy: rows y0, y0 + y1, y0 − y1, −y1; then the same on the columns
                float* at = δm + tileRow * tileColumns + tileColumn;
                StoreRow(at, ξStride, 0, y00, y01);
                StoreRow(at, ξStride, 4, y00 + y10, y01 + y11);
                StoreRow(at, ξStride, 8, y00 - y10, y01 - y11);
                StoreRow(at, ξStride, 12, -y10, -y11);
            }
        }
    }

    static void StoreRow(float* at, long ξStride, int ξ, Vector256<float> c0, Vector256<float> c1)
    {
        Vector256.Store(c0, at + ξ * ξStride);
        Vector256.Store(c0 + c1, at + (ξ + 1) * ξStride);
        Vector256.Store(c0 - c1, at + (ξ + 2) * ξStride);
        Vector256.Store(-c1, at + (ξ + 3) * ξStride);
    }

    /// <summary>δweight[oc, c] = Gᵀ δU[oc, c] G: the 4x4 gradient of each transformed filter back to its 3x3 filter.</summary>
    /// <param name="δu">[16, OC, C]</param> <param name="δweight">[OC, C, 3, 3] (overwritten)</param>
    public static void FinishWeightGradient(ReadOnlySpan<float> δu, int outChannels, int channels, Span<float> δweight)
    {
        int plane = outChannels * channels;
        Span<float> t = stackalloc float[12];
        for (int at = 0; at < plane; at++)
        {
            for (int j = 0; j < 4; j++)   // t = Gᵀ δU: 3x4
            {
                float u0 = δu[j * plane + at], u1 = δu[(4 + j) * plane + at], u2 = δu[(8 + j) * plane + at], u3 = δu[(12 + j) * plane + at];
                t[j] = u0 + 0.5f * (u1 + u2);
                t[4 + j] = 0.5f * (u1 - u2);
                t[8 + j] = 0.5f * (u1 + u2) + u3;
            }
            var g = δweight.Slice(at * 9, 9);
            for (int a = 0; a < 3; a++)   // δg = t G: 3x3
            {
                float t0 = t[4 * a], t1 = t[4 * a + 1], t2 = t[4 * a + 2], t3 = t[4 * a + 3];
                g[3 * a] = t0 + 0.5f * (t1 + t2);
                g[3 * a + 1] = 0.5f * (t1 - t2);
                g[3 * a + 2] = 0.5f * (t1 + t2) + t3;
            }
        }
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Ongko.Kernels;

/// <summary>
/// Winograd F(2x2, 3x3) for one image in channels-last layout (<see cref="ChannelsLastConvolution"/>'s buffers), for 3x3
/// stride-1 layers whose input has whole blocks of 16 channels (a previous convolution's output): per 2x2 output tile,
/// V = Bᵀ d B of its 4x4 input patch (vectors over 16 channels), then 16 products M[ξ][tiles, OC] = V[ξ][tiles, C] · U[ξ][C, OC]
/// (each a 1x1 channels-last convolution over the tiles with the packed U[ξ], <see cref="ChannelsLastConvolution.Forward"/>),
/// then Y = Aᵀ M A with scale, shift and activation, and optionally the 2x2 max pooling (one tile is one window): 16
/// multiply-adds per tile and channel pair instead of 36. The transforms are vectorized over channels, so they cost little.
/// The twin is the direct convolution's (<see cref="ChannelsLastConvolution.ForwardNaive"/>, then
/// <see cref="ChannelsLastConvolution.MaxPool2x2Naive"/>).
/// </summary>
public static unsafe class ChannelsLastWinograd
{
    /// <summary>A 3x3 stride-1 layer whose (padded) input channels come in whole vectors; the tiles must cover the output (even size) unless it is pooled.</summary>
    public static bool Supports(in ConvGeometry g, int inputPixelStride, bool pooled) =>
        g.Kernel == 3 && g.Stride == 1 && inputPixelStride % ChannelsLastConvolution.Block == 0
        && (pooled || (g.OutputHeight % 2 == 0 && g.OutputWidth % 2 == 0));

    /// <summary>Floats of the packed U: 16 packed 1x1 weights [OC, C].</summary>
    public static int PackedSize(int outChannels, int channels) => 16 * ChannelsLastConvolution.PackedSize(outChannels, channels, 1);

    /// <summary>U[ξ] = (G g Gᵀ)[ξ] per (oc, c), each ξ packed as a 1x1 channels-last convolution's weights.</summary>
    public static void TransformWeights(ReadOnlySpan<float> weight, int outChannels, int channels, Span<float> packed)
    {
        var u = new float[16 * outChannels * channels];
        Winograd.TransformWeights(weight, outChannels, channels, u);
        int size = ChannelsLastConvolution.PackedSize(outChannels, channels, 1), plane = outChannels * channels;
        for (int ξ = 0; ξ < 16; ξ++)
            ChannelsLastConvolution.PackWeights(u.AsSpan(ξ * plane, plane), outChannels, channels, 1, packed.Slice(ξ * size, size));
    }

    /// <summary>Floats of one workspace: V [16][tiles][Cp] and M [16][tiles][OCp] for <paramref name="tiles"/> tiles.</summary>
    public static int WorkSize(int tiles, int channelsPadded, int outChannels) =>
        16 * tiles * (channelsPadded + ChannelsLastConvolution.PaddedChannels(outChannels));

    /// <summary>
    /// Tiles [tileStart, tileEnd) of an image with <paramref name="tilesWide"/> x <paramref name="tilesHigh"/> tiles (row-major):
    /// y = activation(scale ⊙ conv3x3(x) + shift) per output pixel, or with <paramref name="pool"/> the max of each tile (pooled pixel
    /// (ty, tx)). x: the input's padded origin (border 1), pixel stride <paramref name="xPixelStride"/> (a multiple of 16, channels
    /// beyond <paramref name="channels"/> zero); y: output pixel (oy, ox) at y + oy·yRowStride + ox·yPixelStride.
    /// </summary>
    /// <param name="work">floats of <see cref="WorkSize"/> for the whole image's tiles</param>
    public static void Forward(GemmKernel kernel, float* x, int xRowStride, int xPixelStride, int channels, float* packed, int outChannels,
        int tilesWide, int tilesHigh, int tileStart, int tileEnd, float* ones, float* zeros, float* scale, float* shift, Activation activation,
        bool pool, float* work, float* y, int yRowStride, int yPixelStride)
    {
        int tiles = tilesWide * tilesHigh, padded = ChannelsLastConvolution.PaddedChannels(outChannels);
        long vPlane = (long)tiles * xPixelStride, mPlane = (long)tiles * padded;
        float* v = work, m = work + 16 * vPlane;
        float floor = activation == Activation.ReLU ? 0f : float.NegativeInfinity;
        int size = ChannelsLastConvolution.PackedSize(outChannels, channels, 1);
        // Chunks of tiles, so V and M of a chunk stay in cache between the three phases (each tile has its own place in the
        // buffers: workers splitting an image's tiles never meet).
        for (int chunk = tileStart; chunk < tileEnd; chunk += ChunkTiles)
        {
            int chunkEnd = Math.Min(tileEnd, chunk + ChunkTiles);
            for (int t = chunk; t < chunkEnd; t++)
            {
                float* d = x + (long)(2 * (t / tilesWide)) * xRowStride + (long)(2 * (t % tilesWide)) * xPixelStride;
                for (int c = 0; c < xPixelStride; c += 8) InputTile(kernel, d + c, xRowStride, xPixelStride, v + (long)t * xPixelStride + c, vPlane);
            }
            for (int ξ = 0; ξ < 16; ξ++)
                ChannelsLastConvolution.Forward(kernel, v + ξ * vPlane, 0, xPixelStride, channels, packed + (long)ξ * size, outChannels, 1, 1, tiles,
                                                chunk, chunkEnd, ones, zeros, Activation.None, m + ξ * mPlane, 0, padded);
            for (int t = chunk; t < chunkEnd; t++)
            {
                int ty = t / tilesWide, tx = t % tilesWide;
                float* o = pool ? y + (long)ty * yRowStride + (long)tx * yPixelStride : y + 2L * ty * yRowStride + 2L * tx * yPixelStride;
                for (int c = 0; c < padded; c += 8)
                    OutputTile(kernel, m + (long)t * padded + c, mPlane, scale + c, shift + c, floor, pool, o + c, yRowStride, yPixelStride);
            }
        }
    }

    /// <summary>Tiles transformed, multiplied and transformed back together.</summary>
    const int ChunkTiles = 16;

    /// <summary>V[ξ] = (Bᵀ d B)[ξ] for 8 channels of one 4x4 patch (d: its top-left, rows <paramref name="rowStride"/> apart), stored <paramref name="plane"/> apart.</summary>
    static void InputTile(GemmKernel kernel, float* d, int rowStride, int pixelStride, float* v, long plane)
    {
        if (kernel == GemmKernel.Scalar)
        {
            float* t = stackalloc float[16];
            for (int lane = 0; lane < 8; lane++)
            {
                for (int j = 0; j < 4; j++)
                {
                    float d0 = d[j * pixelStride + lane], d1 = d[rowStride + j * pixelStride + lane],
                          d2 = d[2 * rowStride + j * pixelStride + lane], d3 = d[3 * rowStride + j * pixelStride + lane];
                    t[j] = d0 - d2; t[4 + j] = d1 + d2; t[8 + j] = d2 - d1; t[12 + j] = d1 - d3;
                }
                for (int i = 0; i < 4; i++)
                {
                    v[(4 * i + 0) * plane + lane] = t[4 * i] - t[4 * i + 2];
                    v[(4 * i + 1) * plane + lane] = t[4 * i + 1] + t[4 * i + 2];
                    v[(4 * i + 2) * plane + lane] = t[4 * i + 2] - t[4 * i + 1];
                    v[(4 * i + 3) * plane + lane] = t[4 * i + 1] - t[4 * i + 3];
                }
            }
            return;
        }
        // Rows first: t[i][j] = (Bᵀ d)[i][j], then columns: v[i][·] = t[i] B.
        for (int i = 0; i < 4; i++)
        {
            Vector256<float> t0, t1, t2, t3;
            float* r0 = d, r1 = d + rowStride, r2 = d + 2 * rowStride, r3 = d + 3 * rowStride;
            (t0, t1, t2, t3) = i switch
            {
                0 => (Row(r0, 0) - Row(r2, 0), Row(r0, 1) - Row(r2, 1), Row(r0, 2) - Row(r2, 2), Row(r0, 3) - Row(r2, 3)),
                1 => (Row(r1, 0) + Row(r2, 0), Row(r1, 1) + Row(r2, 1), Row(r1, 2) + Row(r2, 2), Row(r1, 3) + Row(r2, 3)),
                2 => (Row(r2, 0) - Row(r1, 0), Row(r2, 1) - Row(r1, 1), Row(r2, 2) - Row(r1, 2), Row(r2, 3) - Row(r1, 3)),
                _ => (Row(r1, 0) - Row(r3, 0), Row(r1, 1) - Row(r3, 1), Row(r1, 2) - Row(r3, 2), Row(r1, 3) - Row(r3, 3)),
            };
            (t0 - t2).Store(v + (4 * i + 0) * plane);
            (t1 + t2).Store(v + (4 * i + 1) * plane);
            (t2 - t1).Store(v + (4 * i + 2) * plane);
            (t1 - t3).Store(v + (4 * i + 3) * plane);
        }

        Vector256<float> Row(float* row, int j) => Vector256.Load(row + j * pixelStride);
    }

    /// <summary>Y = Aᵀ M A for 8 output channels of one tile, then scale, shift, floor (the activation), and the 2x2 store or its max.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void OutputTile(GemmKernel kernel, float* m, long plane, float* scale, float* shift, float floor, bool pool, float* y, int rowStride, int pixelStride)
    {
        if (kernel == GemmKernel.Scalar)
        {
            for (int lane = 0; lane < 8; lane++)
            {
                float M(int ξ) => m[ξ * plane + lane];
                // s[i][j] = (Aᵀ M)[i][j] for i in {0, 1}, j in 0..3; then y[i] = s[i] A.
                float s00 = M(0) + M(4) + M(8), s01 = M(1) + M(5) + M(9), s02 = M(2) + M(6) + M(10), s03 = M(3) + M(7) + M(11);
                float s10 = M(4) - M(8) - M(12), s11 = M(5) - M(9) - M(13), s12 = M(6) - M(10) - M(14), s13 = M(7) - M(11) - M(15);
                float Finish(float value) => MathF.Max(value * scale[lane] + shift[lane], floor);
                float e00 = Finish(s00 + s01 + s02), e01 = Finish(s01 - s02 - s03), e10 = Finish(s10 + s11 + s12), e11 = Finish(s11 - s12 - s13);
                if (pool) y[lane] = MathF.Max(MathF.Max(e00, e01), MathF.Max(e10, e11));
                else (y[lane], y[pixelStride + lane], y[rowStride + lane], y[rowStride + pixelStride + lane]) = (e00, e01, e10, e11);
            }
            return;
        }
        Vector256<float> L(int ξ) => Vector256.Load(m + ξ * plane);
        var a0 = L(0) + L(4) + L(8); var a1 = L(1) + L(5) + L(9); var a2 = L(2) + L(6) + L(10); var a3 = L(3) + L(7) + L(11);
        var b0 = L(4) - L(8) - L(12); var b1 = L(5) - L(9) - L(13); var b2 = L(6) - L(10) - L(14); var b3 = L(7) - L(11) - L(15);
        var sc = Vector256.Load(scale);
        var sh = Vector256.Load(shift);
        var f = Vector256.Create(floor);
        var y00 = Vector256.Max((a0 + a1 + a2) * sc + sh, f);
        var y01 = Vector256.Max((a1 - a2 - a3) * sc + sh, f);
        var y10 = Vector256.Max((b0 + b1 + b2) * sc + sh, f);
        var y11 = Vector256.Max((b1 - b2 - b3) * sc + sh, f);
        if (pool) { Vector256.Max(Vector256.Max(y00, y01), Vector256.Max(y10, y11)).Store(y); return; }
        y00.Store(y);
        y01.Store(y + pixelStride);
        y10.Store(y + rowStride);
        y11.Store(y + rowStride + pixelStride);
    }
}

using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ongko.Kernels;

/// <summary>
/// Max pooling without padding over planes [planes, H, W] (planes = images · channels), windows and strides from a
/// <see cref="ConvGeometry"/> (its Channels is not used). Forward remembers where each maximum came from (its index
/// within its input plane); on ties the first in row-major order wins and a NaN wins, as in PyTorch.
/// The 2x2 stride-2 window runs on vector paths; every other window, and the twin, is the plain loop.
/// </summary>
public static class MaxPool
{
    /// <param name="x">[planes, H, W]</param>
    /// <param name="y">[planes, OH, OW]</param> <param name="argmax">[planes, OH, OW]: index of the maximum within its input plane</param>
    public static void Forward(ReadOnlySpan<float> x, int planes, in ConvGeometry g, Span<float> y, Span<int> argmax) =>
        Forward(GemmTuning.Current.Kernel, x, planes, g, y, argmax);

    /// <summary>
    /// The pooling above by the given kernel: the 2x2 stride-2 window
    /// by AVX-512 (every pair of rows of every plane in one sweep, 16 windows a step), AVX2 (8 or 4 windows) or the plain loop.
    /// </summary>
    public static unsafe void Forward(GemmKernel kernel, ReadOnlySpan<float> x, int planes, in ConvGeometry g, Span<float> y, Span<int> argmax)
    {
        if (x.Length < planes * g.InputPixels || y.Length < planes * g.OutputPixels || argmax.Length < planes * g.OutputPixels)
            throw new ArgumentException("max pooling: buffers too small for the planes");
        if (g.Kernel == 2 && g.Stride == 2 && kernel == GemmKernel.Avx512 && Avx512BW.VL.IsSupported)
        {
            fixed (float* xp = x, yp = y)
            fixed (int* wp = argmax)
                Forward2x2Avx512(xp, planes, g, yp, wp);
            return;
        }
        bool vector = g.Kernel == 2 && g.Stride == 2 && kernel >= GemmKernel.Avx2 && Avx2.IsSupported;
        for (int plane = 0; plane < planes; plane++)
        {
            var xPlane = x.Slice(plane * g.InputPixels, g.InputPixels);
            var yPlane = y.Slice(plane * g.OutputPixels, g.OutputPixels);
            var winners = argmax.Slice(plane * g.OutputPixels, g.OutputPixels);
            if (vector) ForwardPlane2x2(xPlane, yPlane, winners, g);
            else ForwardPlaneNaive(xPlane, yPlane, winners, g);
        }
    }

    /// <summary>The plain twin of <c>Forward</c>: every window with the scalar loop.</summary>
    public static void ForwardNaive(ReadOnlySpan<float> x, int planes, in ConvGeometry g, Span<float> y, Span<int> argmax)
    {
        for (int plane = 0; plane < planes; plane++)
            ForwardPlaneNaive(x.Slice(plane * g.InputPixels, g.InputPixels), y.Slice(plane * g.OutputPixels, g.OutputPixels),
                              argmax.Slice(plane * g.OutputPixels, g.OutputPixels), g);
    }

    /// <summary>Each output's gradient goes to the input that won its window (summed where overlapping windows share one).</summary>
    /// <param name="δy">[planes, OH, OW]</param> <param name="argmax">[planes, OH, OW] from <c>Forward</c></param>
    /// <param name="δx">[planes, H, W], overwritten</param>
    public static void Backward(ReadOnlySpan<float> δy, ReadOnlySpan<int> argmax, int planes, in ConvGeometry g, Span<float> δx)
    {
        // (An AVX-512 pass writing every δx value once, as the forward pass reads: measured no faster at 24x24 and slower at 14x14 and 7x7
        // than clearing δx and adding each δ at its winner.)
        // (A pointer loop without the span's bounds checks measured faster alone but no faster inside a training step, where the
        // cleared plane's lines miss anyway.)
        int outputPixels = g.OutputPixels;
        for (int plane = 0; plane < planes; plane++)
        {
            var δxPlane = δx.Slice(plane * g.InputPixels, g.InputPixels);
            δxPlane.Clear();
            var δyPlane = δy.Slice(plane * outputPixels, outputPixels);
            var winnerPlane = argmax.Slice(plane * outputPixels, outputPixels);
            for (int i = 0; i < winnerPlane.Length; i++)
                δxPlane[winnerPlane[i]] += δyPlane[i];
        }
    }

    /// <summary>The twin of <c>Backward</c> from the input itself: each window's winner found again by direct loops.</summary>
    /// <param name="x">[planes, H, W]</param> <param name="δy">[planes, OH, OW]</param> <param name="δx">[planes, H, W], overwritten</param>
    public static void BackwardNaive(ReadOnlySpan<float> x, ReadOnlySpan<float> δy, int planes, in ConvGeometry g, Span<float> δx)
    {
        δx[..(planes * g.InputPixels)].Clear();
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < g.OutputHeight; oy++)
                for (int ox = 0; ox < g.OutputWidth; ox++)
                {
                    int best = p * g.InputPixels + oy * g.Stride * g.Width + ox * g.Stride;
                    for (int ky = 0; ky < g.Kernel; ky++)
                        for (int kx = 0; kx < g.Kernel; kx++)
                        {
                            int at = p * g.InputPixels + (oy * g.Stride + ky) * g.Width + ox * g.Stride + kx;
                            if (x[at] > x[best] || float.IsNaN(x[at])) best = at;
                        }
                    δx[best] += δy[(p * g.OutputHeight + oy) * g.OutputWidth + ox];
                }
    }

    /// <summary>
    /// The 2x2 stride-2 window (model3's pooling), 8 outputs at a time: the four candidates in row-major
    /// order, a later one winning only when strictly greater, as <see cref="ForwardPlaneNaive"/> does. A chunk
    /// holding a NaN goes to the scalar twin, which gives NaN its PyTorch treatment.
    /// </summary>
    static unsafe void ForwardPlane2x2(ReadOnlySpan<float> x, Span<float> y, Span<int> winners, in ConvGeometry g)
    {
        int outputWidth = g.OutputWidth, width = g.Width;
        fixed (float* xp = x, yp = y)
        fixed (int* wp = winners)
        {
            var lanes = Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14);
            for (int oy = 0; oy < g.OutputHeight; oy++)
            {
                float* top = xp + 2 * oy * width, bottom = top + width;
                int ox = 0;
                for (; ox + 8 <= outputWidth; ox += 8)
                    if (!Pool8(top + 2 * ox, bottom + 2 * ox, yp + oy * outputWidth + ox, wp + oy * outputWidth + ox, 2 * oy * width + 2 * ox, width, lanes))
                        PoolRange(x, y, winners, g, oy, ox, ox + 8);
                // A short tail (whole rows of 7 at 14x14, 6 at 28x28): all 8 lanes anyway, when the extra lanes' inputs
                // (the next input rows) and outputs (the start of the next output row, recomputed right after) lie
                // inside this plane, i.e. not on its last output row.
                if (ox < outputWidth && oy < g.OutputHeight - 1 && ox + 8 <= width && ox + 8 <= 2 * outputWidth
                    && Pool8(top + 2 * ox, bottom + 2 * ox, yp + oy * outputWidth + ox, wp + oy * outputWidth + ox, 2 * oy * width + 2 * ox, width, lanes))
                    continue;
                // Then 4 lanes (rows of 3 outputs at 7x7), spilling the same way where a row ends.
                for (; ox < outputWidth && (ox + 4 <= outputWidth || (oy < g.OutputHeight - 1 && ox + 4 <= width && ox + 4 <= 2 * outputWidth)); ox += 4)
                    if (!Pool4(top + 2 * ox, bottom + 2 * ox, yp + oy * outputWidth + ox, wp + oy * outputWidth + ox, 2 * oy * width + 2 * ox, width)) break;
                if (ox < outputWidth) PoolRange(x, y, winners, g, oy, ox, outputWidth);
            }
        }
    }

    /// <summary>8 windows whose top-left inputs start at <paramref name="topRow"/> (offset <paramref name="firstIndex"/> in the plane); false (nothing stored) when any input is NaN.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    static unsafe bool Pool8(float* topRow, float* bottomRow, float* y, int* winners, int firstIndex, int width, Vector256<int> lanes)
    {
        var (a, b) = Deinterleave(topRow);
        var (c, d) = Deinterleave(bottomRow);
        var nan = Avx.Or(Avx.Or(Avx.CompareUnordered(a, b), Avx.CompareUnordered(c, d)), Avx.CompareUnordered(a, c));
        if (!Avx.TestZ(nan, nan)) return false;
        var first = Vector256.Create(firstIndex) + lanes;
        var max = a;
        var index = first;
        var greater = Avx.CompareGreaterThan(b, max);
        max = Avx.BlendVariable(max, b, greater);
        index = Avx.BlendVariable(index.AsSingle(), (first + Vector256.Create(1)).AsSingle(), greater).AsInt32();
        greater = Avx.CompareGreaterThan(c, max);
        max = Avx.BlendVariable(max, c, greater);
        index = Avx.BlendVariable(index.AsSingle(), (first + Vector256.Create(width)).AsSingle(), greater).AsInt32();
        greater = Avx.CompareGreaterThan(d, max);
        max = Avx.BlendVariable(max, d, greater);
        index = Avx.BlendVariable(index.AsSingle(), (first + Vector256.Create(width + 1)).AsSingle(), greater).AsInt32();
        Avx.Store(y, max);
        Avx.Store(winners, index);
        return true;
    }

    /// <summary><see cref="Pool8"/> for 4 windows (8 inputs of each of the two rows).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    static unsafe bool Pool4(float* topRow, float* bottomRow, float* y, int* winners, int firstIndex, int width)
    {
        var topLow = Sse.LoadVector128(topRow); var topHigh = Sse.LoadVector128(topRow + 4);
        var bottomLow = Sse.LoadVector128(bottomRow); var bottomHigh = Sse.LoadVector128(bottomRow + 4);
        var a = Sse.Shuffle(topLow, topHigh, 0b10_00_10_00); var b = Sse.Shuffle(topLow, topHigh, 0b11_01_11_01);
        var c = Sse.Shuffle(bottomLow, bottomHigh, 0b10_00_10_00); var d = Sse.Shuffle(bottomLow, bottomHigh, 0b11_01_11_01);
        var nan = Sse.Or(Sse.Or(Sse.CompareUnordered(a, b), Sse.CompareUnordered(c, d)), Sse.CompareUnordered(a, c));
        if (Sse.MoveMask(nan) != 0) return false;
        var first = Vector128.Create(firstIndex) + Vector128.Create(0, 2, 4, 6);
        var max = a;
        var index = first;
        var greater = Sse.CompareGreaterThan(b, max);
        max = Sse41.BlendVariable(max, b, greater);
        index = Sse41.BlendVariable(index.AsSingle(), (first + Vector128.Create(1)).AsSingle(), greater).AsInt32();
        greater = Sse.CompareGreaterThan(c, max);
        max = Sse41.BlendVariable(max, c, greater);
        index = Sse41.BlendVariable(index.AsSingle(), (first + Vector128.Create(width)).AsSingle(), greater).AsInt32();
        greater = Sse.CompareGreaterThan(d, max);
        max = Sse41.BlendVariable(max, d, greater);
        index = Sse41.BlendVariable(index.AsSingle(), (first + Vector128.Create(width + 1)).AsSingle(), greater).AsInt32();
        Sse.Store(y, max);
        Sse2.Store(winners, index);
        return true;
    }

    /// <summary>
    /// The 2x2 stride-2 window over every plane, one pair of input rows at a time, up to 16 windows per step from 32 columns of each row
    /// (masked loads and stores where a row has fewer): the pair of each row, then the rows, a later input winning only when greater or NaN,
    /// which is the row-major scan's first maximum (and a NaN's, the last NaN), as <see cref="ForwardPlaneNaive"/>.
    /// </summary>
    static unsafe void Forward2x2Avx512(float* x, int planes, in ConvGeometry g, float* y, int* argmax)
    {
        int width = g.Width, outputWidth = g.OutputWidth, outputHeight = g.OutputHeight;
        var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        var odd = even + Vector512<int>.One;
        var lanes = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        var (one, below, belowRight) = (Vector512<int>.One, Vector512.Create(width), Vector512.Create(width + 1));
        float* xEnd = x + (long)planes * g.InputPixels, yEnd = y + (long)planes * g.OutputPixels;
        for (int plane = 0; plane < planes; plane++)
            for (int oy = 0; oy < outputHeight; oy++)
            {
                float* top = x + (long)plane * g.InputPixels + 2 * oy * width, bottom = top + width;
                float* yRow = y + (long)plane * g.OutputPixels + oy * outputWidth;
                int* winnerRow = argmax + (long)plane * g.OutputPixels + oy * outputWidth;
                for (int ox = 0; ox < outputWidth; ox += 16)
                {
                    // Short rows read and write whole vectors: the extra lanes spill into the rows after, which are recomputed (overwritten)
                    // later; only where whole vectors would reach past the planes (the last rows) are loads and stores masked.
                    // (Measured: masked loads and stores on every short row made 24x24 planes 2x slower in a training step.)
                    int count = Math.Min(16, outputWidth - ox);
                    bool whole = count == 16 || (bottom + 2 * ox + 32 <= xEnd && yRow + ox + 16 <= yEnd);
                    Vector512<float> t0, t1, u0, u1;
                    if (whole)
                        (t0, t1, u0, u1) = (Vector512.Load(top + 2 * ox), Vector512.Load(top + 2 * ox + 16), Vector512.Load(bottom + 2 * ox), Vector512.Load(bottom + 2 * ox + 16));
                    else
                    {
                        var low = Vector512.LessThan(lanes, Vector512.Create(2 * count)).AsSingle();
                        var high = Vector512.LessThan(lanes + Vector512.Create(16), Vector512.Create(2 * count)).AsSingle();
                        t0 = Avx512F.MaskLoad(top + 2 * ox, low, Vector512<float>.Zero);
                        t1 = Avx512F.MaskLoad(top + 2 * ox + 16, high, Vector512<float>.Zero);
                        u0 = Avx512F.MaskLoad(bottom + 2 * ox, low, Vector512<float>.Zero);
                        u1 = Avx512F.MaskLoad(bottom + 2 * ox + 16, high, Vector512<float>.Zero);
                    }
                    var a = Avx512F.PermuteVar16x32x2(t0, even, t1);
                    var b = Avx512F.PermuteVar16x32x2(t0, odd, t1);
                    var c = Avx512F.PermuteVar16x32x2(u0, even, u1);
                    var d = Avx512F.PermuteVar16x32x2(u0, odd, u1);
                    var later = Wins(b, a);
                    var upper = Vector512.ConditionalSelect(later, b, a);
                    var upperAt = Vector512.ConditionalSelect(later.AsInt32(), one, Vector512<int>.Zero);
                    later = Wins(d, c);
                    var lower = Vector512.ConditionalSelect(later, d, c);
                    var lowerAt = Vector512.ConditionalSelect(later.AsInt32(), belowRight, below);
                    later = Wins(lower, upper);
                    var max = Vector512.ConditionalSelect(later, lower, upper);
                    var winner = Vector512.ConditionalSelect(later.AsInt32(), lowerAt, upperAt) + Vector512.Create(2 * oy * width + 2 * ox) + lanes + lanes;
                    if (whole)
                    {
                        max.Store(yRow + ox);
                        winner.Store(winnerRow + ox);
                    }
                    else
                    {
                        var mask = Vector512.LessThan(lanes, Vector512.Create(count));
                        Avx512F.MaskStore(yRow + ox, mask.AsSingle(), max);
                        Avx512F.MaskStore(winnerRow + ox, mask, winner);
                    }
                }
            }
    }

    /// <summary>Lanes where the later candidate wins: greater, or NaN.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Wins(Vector512<float> later, Vector512<float> earlier) =>
        Vector512.GreaterThan(later, earlier) | ~Vector512.Equals(later, later);

    /// <summary>16 consecutive floats → (the 8 at even offsets, the 8 at odd offsets).</summary>
    static unsafe (Vector256<float> Even, Vector256<float> Odd) Deinterleave(float* source)
    {
        var low = Avx.LoadVector256(source);
        var high = Avx.LoadVector256(source + 8);
        var even = Avx2.Permute4x64(Avx.Shuffle(low, high, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle();
        var odd = Avx2.Permute4x64(Avx.Shuffle(low, high, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle();
        return (even, odd);
    }

    /// <summary>One plane with the plain loop: the twin of the vector path.</summary>
    static void ForwardPlaneNaive(ReadOnlySpan<float> x, Span<float> y, Span<int> winners, in ConvGeometry g)
    {
        for (int oy = 0; oy < g.OutputHeight; oy++) PoolRange(x, y, winners, g, oy, 0, g.OutputWidth);
    }

    /// <summary>The plain loop (and the twin of the vector path): outputs [firstColumn, endColumn) of output row oy.</summary>
    static void PoolRange(ReadOnlySpan<float> x, Span<float> y, Span<int> winners, in ConvGeometry g, int oy, int firstColumn, int endColumn)
    {
        int k = g.Kernel, outputWidth = g.OutputWidth;
        for (int ox = firstColumn; ox < endColumn; ox++)
        {
            int top = oy * g.Stride, left = ox * g.Stride;
            int best = top * g.Width + left;
            float max = x[best];
            for (int ky = 0; ky < k; ky++)
            {
                var row = x.Slice((top + ky) * g.Width + left, k);
                for (int kx = 0; kx < k; kx++)
                    if (row[kx] > max || float.IsNaN(row[kx])) { max = row[kx]; best = (top + ky) * g.Width + left + kx; }
            }
            y[oy * outputWidth + ox] = max;
            winners[oy * outputWidth + ox] = best;
        }
    }

}

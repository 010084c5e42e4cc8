using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ongko.Kernels;

/// <summary>
/// Direct convolution for layers with few input channels (the first layer: 1 or 3), stride 1: each output vector of
/// 8 pixels accumulates C·k·k broadcast weights times shifted input rows, four output channels at a time, from a
/// zero-padded copy of the image. im2col would write a C·k·k-row matrix (9 or 27 rows) only for a GEMM with K = 9 or 27.
/// A 2x2 stride-2 max pooling after it can run in the same pass. <see cref="ConvolutionNaive.Forward"/> is its twin.
/// </summary>
public static unsafe class DirectConvolution
{
    /// <summary>The most input channels this kernel takes; more fill a GEMM better.</summary>
    public const int MaxChannels = 4;

    public static bool Supports(in ConvGeometry g) => g.Stride == 1 && g.Channels <= MaxChannels && g.Kernel <= 7 && Avx2.IsSupported;

    /// <summary>Floats of the padded copy of one image: C planes of (H + 2p) rows, with room for whole 16-pixel reads.</summary>
    public static int PaddedImageSize(in ConvGeometry g) => g.Channels * PaddedRows(g) * PaddedWidth(g);

    static int PaddedRows(in ConvGeometry g) => g.Height + 2 * g.Padding;
    static int PaddedWidth(in ConvGeometry g) => (g.OutputWidth + 15) / 16 * 16 + g.Kernel + 8;

    /// <summary>
    /// y = activation(scale ⊙ (W ∗ x) + shift) per output channel (empty scale: 1; empty shift: 0) for <paramref name="count"/>
    /// images; with <paramref name="maxPool"/> followed by 2x2 stride-2 max pooling: y is then [count, OC, OH/2, OW/2].
    /// </summary>
    /// <param name="x">[count, C, H, W]</param> <param name="weight">[OC, C, k, k]</param>
    /// <param name="shift">[OC] or empty (the bias, or a folded batch normalisation's shift)</param> <param name="scale">[OC] or empty</param>
    /// <param name="padded">work: <see cref="PaddedImageSize"/> floats</param>
    /// <param name="y">[count, OC, OH, OW], or [count, OC, OH/2, OW/2] with <paramref name="maxPool"/></param>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> shift, ReadOnlySpan<float> scale,
        int count, int outChannels, in ConvGeometry g, Activation activation, Span<float> padded, Span<float> y, bool maxPool = false)
    {
        if (!Supports(g)) throw new ArgumentException($"direct convolution: needs stride 1, at most {MaxChannels} input channels, kernel <= 7 and AVX2");
        int imageSize = g.Channels * g.InputPixels, patch = g.PatchSize;
        int outputPixels = maxPool ? g.OutputHeight / 2 * (g.OutputWidth / 2) : g.OutputPixels;
        if (x.Length < count * imageSize || weight.Length < outChannels * patch || padded.Length < PaddedImageSize(g)
            || y.Length < count * outChannels * outputPixels || (!shift.IsEmpty && shift.Length < outChannels) || (!scale.IsEmpty && scale.Length < outChannels))
            throw new ArgumentException("direct convolution: buffers too small for the geometry");
        int rows = PaddedRows(g), width = PaddedWidth(g);
        padded[..PaddedImageSize(g)].Clear();   // the border stays zero: only the interior is rewritten per image
        Span<float> factors = outChannels <= 1024 ? stackalloc float[outChannels] : new float[outChannels];
        Span<float> offsets = outChannels <= 1024 ? stackalloc float[outChannels] : new float[outChannels];
        for (int oc = 0; oc < outChannels; oc++) (factors[oc], offsets[oc]) = (scale.IsEmpty ? 1 : scale[oc], shift.IsEmpty ? 0 : shift[oc]);
        float floor = activation == Activation.ReLU ? 0f : float.NegativeInfinity;
        fixed (float* xStart = x, w = weight, paddedStart = padded, yStart = y, factor = factors, offset = offsets)
            for (int i = 0; i < count; i++)
            {
                for (int c = 0; c < g.Channels; c++)
                    for (int row = 0; row < g.Height; row++)
                        new ReadOnlySpan<float>(xStart + (long)i * imageSize + c * g.InputPixels + row * g.Width, g.Width)
                            .CopyTo(new Span<float>(paddedStart + (c * rows + row + g.Padding) * width + g.Padding, g.Width));
                float* image = yStart + (long)i * outChannels * outputPixels;
                int oc0 = 0;
                for (; oc0 + 4 <= outChannels; oc0 += 4)
                    if (maxPool) Pooled4(paddedStart, w, factor, offset, floor, oc0, g, rows, width, image);
                    else Plain4(paddedStart, w, factor, offset, floor, oc0, g, rows, width, image);
                for (; oc0 < outChannels; oc0++)   // the last OC % 4 channels, one at a time
                    Single(paddedStart, w, factor, offset, floor, oc0, g, rows, width, image, maxPool);
            }
    }

    /// <summary>Output channels oc0..oc0+3 of one image, 16 pixels of a row at a time.</summary>
    static void Plain4(float* padded, float* w, float* factor, float* offset, float floor, int oc0, in ConvGeometry g, int rows, int width, float* y)
    {
        int outputWidth = g.OutputWidth, outputPixels = g.OutputPixels;
        var vFloor = Vector256.Create(floor);
        float* w0 = w + oc0 * g.PatchSize;
        for (int outputRow = 0; outputRow < g.OutputHeight; outputRow++)
            for (int column = 0; column < outputWidth; column += 16)
            {
                var (a0, b0, a1, b1, a2, b2, a3, b3) = Accumulate4(padded, w0, g, rows, width, outputRow, column);
                int valid = Math.Min(16, outputWidth - column);
                float* at = y + oc0 * outputPixels + outputRow * outputWidth + column;
                Store16(at, valid, Epilogue(a0, factor[oc0], offset[oc0], vFloor), Epilogue(b0, factor[oc0], offset[oc0], vFloor));
                Store16(at + outputPixels, valid, Epilogue(a1, factor[oc0 + 1], offset[oc0 + 1], vFloor), Epilogue(b1, factor[oc0 + 1], offset[oc0 + 1], vFloor));
                Store16(at + 2 * outputPixels, valid, Epilogue(a2, factor[oc0 + 2], offset[oc0 + 2], vFloor), Epilogue(b2, factor[oc0 + 2], offset[oc0 + 2], vFloor));
                Store16(at + 3 * outputPixels, valid, Epilogue(a3, factor[oc0 + 3], offset[oc0 + 3], vFloor), Epilogue(b3, factor[oc0 + 3], offset[oc0 + 3], vFloor));
            }
    }

    /// <summary>Output channels oc0..oc0+3 of one image with 2x2 stride-2 max pooling: two output rows, 16 columns, give 8 pooled values.</summary>
    static void Pooled4(float* padded, float* w, float* factor, float* offset, float floor, int oc0, in ConvGeometry g, int rows, int width, float* y)
    {
        int pooledWidth = g.OutputWidth / 2, pooledPixels = g.OutputHeight / 2 * pooledWidth;
        var vFloor = Vector256.Create(floor);
        float* w0 = w + oc0 * g.PatchSize;
        for (int pooledRow = 0; pooledRow < g.OutputHeight / 2; pooledRow++)
            for (int column = 0; column < 2 * pooledWidth; column += 16)
            {
                Vector256<float> t0 = default, t1 = default, t2 = default, t3 = default;
                for (int half = 0; half < 2; half++)   // output rows 2·pooledRow and 2·pooledRow + 1
                {
                    var (a0, b0, a1, b1, a2, b2, a3, b3) = Accumulate4(padded, w0, g, rows, width, 2 * pooledRow + half, column);
                    // Pool pairs of columns now (max is monotone, so after the epilogue as MaxPool2D after the layer).
                    var p0 = PairMax(Epilogue(a0, factor[oc0], offset[oc0], vFloor), Epilogue(b0, factor[oc0], offset[oc0], vFloor));
                    var p1 = PairMax(Epilogue(a1, factor[oc0 + 1], offset[oc0 + 1], vFloor), Epilogue(b1, factor[oc0 + 1], offset[oc0 + 1], vFloor));
                    var p2 = PairMax(Epilogue(a2, factor[oc0 + 2], offset[oc0 + 2], vFloor), Epilogue(b2, factor[oc0 + 2], offset[oc0 + 2], vFloor));
                    var p3 = PairMax(Epilogue(a3, factor[oc0 + 3], offset[oc0 + 3], vFloor), Epilogue(b3, factor[oc0 + 3], offset[oc0 + 3], vFloor));
                    if (half == 0) (t0, t1, t2, t3) = (p0, p1, p2, p3);
                    else (t0, t1, t2, t3) = (Vector256.Max(t0, p0), Vector256.Max(t1, p1), Vector256.Max(t2, p2), Vector256.Max(t3, p3));
                }
                int valid = Math.Min(8, pooledWidth - column / 2);
                float* at = y + oc0 * pooledPixels + pooledRow * pooledWidth + column / 2;
                Store8(at, valid, t0);
                Store8(at + pooledPixels, valid, t1);
                Store8(at + 2 * pooledPixels, valid, t2);
                Store8(at + 3 * pooledPixels, valid, t3);
            }
    }

    /// <summary>
    /// Σ over C·k·k taps of weight · shifted input for output channels oc0..oc0+3 (filters at <paramref name="w0"/>,
    /// one patch apart) and the 16 pixels of output row <paramref name="outputRow"/> from <paramref name="column"/> on:
    /// (a, b) = pixels 0-7 and 8-15 of each channel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector256<float> a0, Vector256<float> b0, Vector256<float> a1, Vector256<float> b1,
            Vector256<float> a2, Vector256<float> b2, Vector256<float> a3, Vector256<float> b3)
        Accumulate4(float* padded, float* w0, in ConvGeometry g, int rows, int width, int outputRow, int column)
    {
        int k = g.Kernel, patch = g.PatchSize;
        float* w1 = w0 + patch, w2 = w1 + patch, w3 = w2 + patch;
        Vector256<float> a0 = default, b0 = default, a1 = default, b1 = default, a2 = default, b2 = default, a3 = default, b3 = default;
        int tap = 0;
        for (int c = 0; c < g.Channels; c++)
            for (int ky = 0; ky < k; ky++)
            {
                float* source = padded + (c * rows + outputRow + ky) * width + column;
                for (int kx = 0; kx < k; kx++, tap++)
                {
                    var low = Vector256.Load(source + kx);
                    var high = Vector256.Load(source + kx + 8);
                    var v0 = Vector256.Create(w0[tap]); a0 = Fma(v0, low, a0); b0 = Fma(v0, high, b0);
                    var v1 = Vector256.Create(w1[tap]); a1 = Fma(v1, low, a1); b1 = Fma(v1, high, b1);
                    var v2 = Vector256.Create(w2[tap]); a2 = Fma(v2, low, a2); b2 = Fma(v2, high, b2);
                    var v3 = Vector256.Create(w3[tap]); a3 = Fma(v3, low, a3); b3 = Fma(v3, high, b3);
                }
            }
        return (a0, b0, a1, b1, a2, b2, a3, b3);
    }

    /// <summary>One output channel (the remainder after blocks of 4), scalar: few channels, little time.</summary>
    static void Single(float* padded, float* w, float* factor, float* offset, float floor, int oc, ConvGeometry g, int rows, int width, float* y, bool maxPool)
    {
        int k = g.Kernel, outputWidth = g.OutputWidth, channels = g.Channels;
        float* filter = w + oc * g.PatchSize;
        float Value(int row, int column)
        {
            float sum = 0;
            int tap = 0;
            for (int c = 0; c < channels; c++)
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++, tap++) sum += filter[tap] * padded[(c * rows + row + ky) * width + column + kx];
            float value = sum * factor[oc] + offset[oc];
            return value > floor || float.IsNaN(value) ? value : floor;
        }
        if (!maxPool)
        {
            for (int row = 0; row < g.OutputHeight; row++)
                for (int column = 0; column < outputWidth; column++) y[(oc * g.OutputHeight + row) * outputWidth + column] = Value(row, column);
            return;
        }
        int pooledHeight = g.OutputHeight / 2, pooledWidth = outputWidth / 2;
        for (int row = 0; row < pooledHeight; row++)
            for (int column = 0; column < pooledWidth; column++)
                y[(oc * pooledHeight + row) * pooledWidth + column] =
                    MathF.Max(MathF.Max(Value(2 * row, 2 * column), Value(2 * row, 2 * column + 1)),
                              MathF.Max(Value(2 * row + 1, 2 * column), Value(2 * row + 1, 2 * column + 1)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        // Fma.IsSupported is a JIT-time constant; a static readonly copy is not when the method is compiled before the class
        // is initialised (the CLI runs without tiered compilation): a branch per FMA made these loops 3x slower there.
        System.Runtime.Intrinsics.X86.Fma.IsSupported ? System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a, b, c) : a * b + c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Epilogue(Vector256<float> sum, float factor, float offset, Vector256<float> floor) =>
        Vector256.Max(sum * Vector256.Create(factor) + Vector256.Create(offset), floor);

    /// <summary>max of columns (0,1), (2,3), .. of 16 values in two vectors: 8 values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> PairMax(Vector256<float> low, Vector256<float> high)
    {
        var even = Avx.Shuffle(low, high, 0b10_00_10_00);   // a0 a2 b0 b2 | a4 a6 b4 b6
        var odd = Avx.Shuffle(low, high, 0b11_01_11_01);
        return Avx2.Permute4x64(Vector256.Max(even, odd).AsDouble(), 0b11_01_10_00).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store16(float* at, int valid, Vector256<float> low, Vector256<float> high)
    {
        if (valid == 16) { Vector256.Store(low, at); Vector256.Store(high, at + 8); return; }
        for (int i = 0; i < valid; i++) at[i] = i < 8 ? low.GetElement(i) : high.GetElement(i - 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store8(float* at, int valid, Vector256<float> values)
    {
        if (valid == 8) { Vector256.Store(values, at); return; }
        for (int i = 0; i < valid; i++) at[i] = values.GetElement(i);
    }
}

using System.Runtime.Intrinsics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Ongko.Kernels;

/// <summary>
/// Unrolls one image's receptive fields into a matrix so convolution becomes a GEMM:
/// col[(channel·k + kernelRow)·k + kernelColumn, outputRow·OW + outputColumn] = image[channel, inRow, inColumn],
/// zero where the window hangs over the padding. Col2Im is its adjoint (sums back overlapping windows).
/// </summary>
public static class Im2Col
{
    /// <param name="image">[C, H, W]</param>
    /// <param name="col">[C·k·k, OH·OW], rows <paramref name="colStride"/> floats apart (0: OH·OW, packed; more: this
    /// image's columns inside a wider matrix holding several images side by side)</param>
    public static void Forward(ReadOnlySpan<float> image, Span<float> col, in ConvGeometry g, int colStride = 0)
    {
        if (colStride == 0) colStride = g.OutputPixels;
        if (colStride < g.OutputPixels) throw new ArgumentOutOfRangeException(nameof(colStride), "im2col: row stride shorter than a row");
        if (g.Stride == 1 && Vector256.IsHardwareAccelerated) { ForwardStride1(image, col, g, colStride); return; }
        int outputHeight = g.OutputHeight, outputWidth = g.OutputWidth, outputPixels = g.OutputPixels;
        for (int channel = 0; channel < g.Channels; channel++)
        {
            var plane = image.Slice(channel * g.InputPixels, g.InputPixels);
            for (int kernelRow = 0; kernelRow < g.Kernel; kernelRow++)
                for (int kernelColumn = 0; kernelColumn < g.Kernel; kernelColumn++)
                {
                    int row = (channel * g.Kernel + kernelRow) * g.Kernel + kernelColumn;
                    var destination = col.Slice(row * colStride, outputPixels);
                    var (first, last) = ValidColumns(kernelColumn, g, outputWidth);
                    for (int outputRow = 0; outputRow < outputHeight; outputRow++)
                    {
                        var line = destination.Slice(outputRow * outputWidth, outputWidth);
                        int inRow = outputRow * g.Stride - g.Padding + kernelRow;
                        if ((uint)inRow >= (uint)g.Height || first >= last) { line.Clear(); continue; }
                        line[..first].Clear();
                        line[last..].Clear();
                        int inColumn = first * g.Stride - g.Padding + kernelColumn;
                        var source = plane.Slice(inRow * g.Width);
                        if (g.Stride == 1)
                            source.Slice(inColumn, last - first).CopyTo(line[first..last]);
                        else
                            for (int outputColumn = first; outputColumn < last; outputColumn++, inColumn += g.Stride)
                                line[outputColumn] = source[inColumn];
                    }
                }
        }
    }

    /// <summary>image += col2im(col): each column entry is added back to the pixel it came from.</summary>
    /// <param name="col">[C·k·k, OH·OW]</param>
    /// <param name="image">[C, H, W], accumulated into (clear it first for a plain adjoint)</param>
    /// <param name="colStride">col's row stride, as in <see cref="Forward"/></param>
    public static void BackwardAccumulate(ReadOnlySpan<float> col, Span<float> image, in ConvGeometry g, int colStride = 0)
    {
        if (colStride == 0) colStride = g.OutputPixels;
        if (colStride < g.OutputPixels) throw new ArgumentOutOfRangeException(nameof(colStride), "col2im: row stride shorter than a row");
        if (g.Stride == 1 && Vector256.IsHardwareAccelerated) { BackwardAccumulateStride1(col, image, g, colStride); return; }
        int outputHeight = g.OutputHeight, outputWidth = g.OutputWidth, outputPixels = g.OutputPixels;
        for (int channel = 0; channel < g.Channels; channel++)
        {
            var plane = image.Slice(channel * g.InputPixels, g.InputPixels);
            for (int kernelRow = 0; kernelRow < g.Kernel; kernelRow++)
                for (int kernelColumn = 0; kernelColumn < g.Kernel; kernelColumn++)
                {
                    int row = (channel * g.Kernel + kernelRow) * g.Kernel + kernelColumn;
                    var source = col.Slice(row * colStride, outputPixels);
                    var (first, last) = ValidColumns(kernelColumn, g, outputWidth);
                    if (first >= last) continue;
                    for (int outputRow = 0; outputRow < outputHeight; outputRow++)
                    {
                        int inRow = outputRow * g.Stride - g.Padding + kernelRow;
                        if ((uint)inRow >= (uint)g.Height) continue;
                        var line = source.Slice(outputRow * outputWidth, outputWidth);
                        var destination = plane.Slice(inRow * g.Width);
                        int inColumn = first * g.Stride - g.Padding + kernelColumn;
                        if (g.Stride == 1)
                            TensorPrimitives.Add(destination.Slice(inColumn, last - first), line[first..last], destination.Slice(inColumn, last - first));
                        else
                            for (int outputColumn = first; outputColumn < last; outputColumn++, inColumn += g.Stride)
                                destination[inColumn] += line[outputColumn];
                    }
                }
        }
    }

    /// <summary>Stride 1 (every 3x3 "same" convolution here): rows copied 8 floats at a time, no per-row slicing.</summary>
    static unsafe void ForwardStride1(ReadOnlySpan<float> image, Span<float> col, in ConvGeometry g, int colStride)
    {
        int outputHeight = g.OutputHeight, outputWidth = g.OutputWidth, outputPixels = g.OutputPixels;
        if (image.Length < g.Channels * g.InputPixels || col.Length < (long)(g.PatchSize - 1) * colStride + outputPixels)
            throw new ArgumentException("im2col: buffers too small for the geometry");
        fixed (float* imageStart = image, colStart = col)
            for (int channel = 0; channel < g.Channels; channel++)
            {
                float* plane = imageStart + channel * g.InputPixels;
                for (int kernelRow = 0; kernelRow < g.Kernel; kernelRow++)
                    for (int kernelColumn = 0; kernelColumn < g.Kernel; kernelColumn++)
                    {
                        float* destination = colStart + (long)((channel * g.Kernel + kernelRow) * g.Kernel + kernelColumn) * colStride;
                        var (first, last) = ValidColumns(kernelColumn, g, outputWidth);
                        int offset = kernelColumn - g.Padding;
                        for (int outputRow = 0; outputRow < outputHeight; outputRow++, destination += outputWidth)
                        {
                            int inRow = outputRow - g.Padding + kernelRow;
                            if ((uint)inRow >= (uint)g.Height || first >= last)
                            {
                                new Span<float>(destination, outputWidth).Clear();
                                continue;
                            }
                            for (int j = 0; j < first; j++) destination[j] = 0;
                            for (int j = last; j < outputWidth; j++) destination[j] = 0;
                            float* source = plane + inRow * g.Width + offset;
                            int column = first;
                            for (; column + 8 <= last; column += 8)
                                Vector256.Store(Vector256.Load(source + column), destination + column);
                            for (; column < last; column++) destination[column] = source[column];
                        }
                    }
            }
    }

    /// <summary>Stride-1 twin of the general col2im: rows added back 8 floats at a time.</summary>
    static unsafe void BackwardAccumulateStride1(ReadOnlySpan<float> col, Span<float> image, in ConvGeometry g, int colStride)
    {
        int outputHeight = g.OutputHeight, outputWidth = g.OutputWidth, outputPixels = g.OutputPixels;
        if (image.Length < g.Channels * g.InputPixels || col.Length < (long)(g.PatchSize - 1) * colStride + outputPixels)
            throw new ArgumentException("col2im: buffers too small for the geometry");
        fixed (float* imageStart = image, colStart = col)
            for (int channel = 0; channel < g.Channels; channel++)
            {
                float* plane = imageStart + channel * g.InputPixels;
                for (int kernelRow = 0; kernelRow < g.Kernel; kernelRow++)
                    for (int kernelColumn = 0; kernelColumn < g.Kernel; kernelColumn++)
                    {
                        float* source = colStart + (long)((channel * g.Kernel + kernelRow) * g.Kernel + kernelColumn) * colStride;
                        var (first, last) = ValidColumns(kernelColumn, g, outputWidth);
                        if (first >= last) continue;
                        int offset = kernelColumn - g.Padding;
                        for (int outputRow = 0; outputRow < outputHeight; outputRow++, source += outputWidth)
                        {
                            int inRow = outputRow - g.Padding + kernelRow;
                            if ((uint)inRow >= (uint)g.Height) continue;
                            float* destination = plane + inRow * g.Width + offset;
                            int column = first;
                            for (; column + 8 <= last; column += 8)
                                Vector256.Store(Vector256.Load(destination + column) + Vector256.Load(source + column), destination + column);
                            for (; column < last; column++) destination[column] += source[column];
                        }
                    }
            }
    }

    /// <summary>The output columns [first, last) whose input column for this kernel column lies inside the image.</summary>
    static (int First, int Last) ValidColumns(int kernelColumn, in ConvGeometry g, int outputWidth)
    {
        int offset = kernelColumn - g.Padding;  // input column = outputColumn·stride + offset
        int first = offset >= 0 ? 0 : (-offset + g.Stride - 1) / g.Stride;
        int last = g.Width - offset <= 0 ? 0 : Math.Min(outputWidth, (g.Width - offset - 1) / g.Stride + 1);
        return (Math.Min(first, outputWidth), last);
    }
}

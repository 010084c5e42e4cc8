using System.Buffers;
using System.Numerics.Tensors;

namespace Ongko.Vision;

/// <summary>Separable Gaussian blur on float planes, OpenCV's default reflect-101 border.</summary>
public static class Blur
{
    /// <summary>Blurs a [height, width] plane in place with a Gaussian of the given sigma (radius ceil(3 sigma)).</summary>
    public static void Gaussian(Span<float> plane, int height, int width, double sigma)
    {
        if (sigma <= 0) return;
        int radius = Math.Max(1, (int)Math.Ceiling(3 * sigma));
        radius = Math.Min(radius, Math.Min(height, width) - 1);
        if (radius < 1) return;
        Span<float> kernel = stackalloc float[2 * radius + 1];
        double total = 0;
        for (int k = -radius; k <= radius; k++) total += kernel[k + radius] = (float)Math.Exp(-k * k / (2 * sigma * sigma));
        for (int k = 0; k < kernel.Length; k++) kernel[k] = (float)(kernel[k] / total);

        int stride = width + 2 * radius, length = height * stride;
        float[] paddedArray = ArrayPool<float>.Shared.Rent(length), tempArray = ArrayPool<float>.Shared.Rent(Math.Max(length, (height + 2 * radius) * width));
        Span<float> padded = paddedArray.AsSpan(0, length);

        // Row pass over the flat buffer of rows padded by reflection: out[i] = sum_k w_k * padded[i + k].
        for (int y = 0; y < height; y++)
        {
            var row = plane.Slice(y * width, width);
            var target = padded.Slice(y * stride, stride);
            row.CopyTo(target.Slice(radius));
            for (int k = 1; k <= radius; k++) { target[radius - k] = row[Intensity.Reflect101(-k, width)]; target[radius + width - 1 + k] = row[Intensity.Reflect101(width - 1 + k, width)]; }
        }
        int flat = length - 2 * radius;
        Span<float> rowOut = tempArray.AsSpan(0, flat);
        TensorPrimitives.Multiply(padded.Slice(0, flat), kernel[0], rowOut);
        for (int k = 1; k < kernel.Length; k++) TensorPrimitives.MultiplyAdd(padded.Slice(k, flat), kernel[k], rowOut, rowOut);

        // Column pass: rows padded by reflection, then whole rows blended.
        var rowsCopy = ArrayPool<float>.Shared.Rent((height + 2 * radius) * width);
        Span<float> tall = rowsCopy.AsSpan(0, (height + 2 * radius) * width);
        for (int y = -radius; y < height + radius; y++)
            rowOut.Slice(Intensity.Reflect101(y, height) * stride, width).CopyTo(tall.Slice((y + radius) * width, width));
        Span<float> result = plane.Slice(0, height * width);
        TensorPrimitives.Multiply(tall.Slice(0, height * width), kernel[0], result);
        for (int k = 1; k < kernel.Length; k++) TensorPrimitives.MultiplyAdd(tall.Slice(k * width, height * width), kernel[k], result, result);

        ArrayPool<float>.Shared.Return(paddedArray);
        ArrayPool<float>.Shared.Return(tempArray);
        ArrayPool<float>.Shared.Return(rowsCopy);
    }
}

using System.Buffers;
using System.Numerics.Tensors;

namespace Ongko.Vision;

/// <summary>
/// Area-averaging resize with OpenCV's <c>INTER_AREA</c> semantics:
/// when both sides shrink (or stay), each output pixel is the coverage-weighted mean of the input
/// pixels under it, non-integer factors included (OpenCV's <c>computeResizeAreaTab</c>);
/// when either side grows, OpenCV uses bilinear interpolation at area-aligned sample positions on
/// both sides, and so does this (for factors between 1 and 2 the two rules give the same taps). Separable: a row pass with per-axis tap tables, then a column pass
/// that blends whole rows with <see cref="TensorPrimitives.MultiplyAdd(ReadOnlySpan{float}, float, ReadOnlySpan{float}, Span{float})"/>.
/// Matches OpenCV within one grey level (OpenCV rounds through fixed point; this works in float).
/// </summary>
public static class Resize
{
    /// <summary>Resizes every channel of <paramref name="source"/> to height x width.</summary>
    public static ByteImage Area(ByteImage source, int height, int width)
    {
        var result = new ByteImage(source.Channels, height, width);
        for (int c = 0; c < source.Channels; c++)
            Area(source.Plane(c), source.Height, source.Width, result.Plane(c), height, width);
        return result;
    }

    /// <summary>One plane: source [sourceHeight, sourceWidth] into destination [height, width].</summary>
    public static void Area(ReadOnlySpan<byte> source, int sourceHeight, int sourceWidth, Span<byte> destination, int height, int width)
    {
        if (source.Length < sourceHeight * sourceWidth || destination.Length < height * width)
            throw new ArgumentException("buffer shorter than the image");
        bool shrink = sourceHeight >= height && sourceWidth >= width;
        var columns = Taps.Cached(sourceWidth, width, shrink);
        var rows = Taps.Cached(sourceHeight, height, shrink);

        float[] rowPassArray = ArrayPool<float>.Shared.Rent(sourceHeight * width);
        float[] accumulatorArray = ArrayPool<float>.Shared.Rent(width);
        Span<float> rowPass = rowPassArray.AsSpan(0, sourceHeight * width); // [sourceHeight, width]
        Span<float> accumulator = accumulatorArray.AsSpan(0, width);

        for (int sy = 0; sy < sourceHeight; sy++)
        {
            var sourceRow = source.Slice(sy * sourceWidth, sourceWidth);
            var outRow = rowPass.Slice(sy * width, width);
            for (int dx = 0; dx < width; dx++)
            {
                float sum = 0;
                for (int t = columns.Start[dx]; t < columns.Start[dx + 1]; t++) sum += columns.Weight[t] * sourceRow[columns.Index[t]];
                outRow[dx] = sum;
            }
        }
        for (int dy = 0; dy < height; dy++)
        {
            accumulator.Clear();
            for (int t = rows.Start[dy]; t < rows.Start[dy + 1]; t++)
                TensorPrimitives.MultiplyAdd(rowPass.Slice(rows.Index[t] * width, width), rows.Weight[t], accumulator, accumulator);
            var outRow = destination.Slice(dy * width, width);
            for (int dx = 0; dx < width; dx++)
            {
                float value = MathF.Round(accumulator[dx]);
                outRow[dx] = value <= 0 ? (byte)0 : value >= 255 ? (byte)255 : (byte)value;
            }
        }
        ArrayPool<float>.Shared.Return(rowPassArray);
        ArrayPool<float>.Shared.Return(accumulatorArray);
    }

    /// <summary>For each output index d, taps Start[d]..Start[d+1]-1 give (input index, weight).</summary>
    sealed class Taps
    {
        public required int[] Start, Index;
        public required float[] Weight;

        [ThreadStatic] static Dictionary<(int, int, bool), Taps>? recent;

        /// <summary><see cref="For"/>, remembered per thread (a few hundred entries at most), so resizing many images of
        /// the same few sizes (a cached data set) allocates nothing.</summary>
        public static Taps Cached(int sourceSize, int size, bool shrink)
        {
            recent ??= [];
            if (recent.TryGetValue((sourceSize, size, shrink), out var taps)) return taps;
            if (recent.Count >= 256) recent.Clear();
            return recent[(sourceSize, size, shrink)] = For(sourceSize, size, shrink);
        }

        public static Taps For(int sourceSize, int size, bool shrink)
        {
            var start = new int[size + 1];
            var index = new List<int>();
            var weight = new List<float>();
            // As OpenCV: the scale is the reciprocal of dst/src (it can differ from src/dst in the last bit, which moves floor()).
            double inverseScale = (double)size / sourceSize, scale = 1.0 / inverseScale;
            for (int d = 0; d < size; d++)
            {
                start[d] = index.Count;
                if (shrink)
                {
                    // Coverage of output cell [d*scale, (d+1)*scale) by each input pixel (computeResizeAreaTab).
                    double f1 = d * scale, f2 = f1 + scale, cellWidth = Math.Min(scale, sourceSize - f1);
                    int s1 = (int)Math.Ceiling(f1), s2 = (int)Math.Floor(f2);
                    s2 = Math.Min(s2, sourceSize - 1);
                    s1 = Math.Min(s1, s2);
                    if (s1 - f1 > 1e-3) { index.Add(s1 - 1); weight.Add((float)((s1 - f1) / cellWidth)); }
                    for (int s = s1; s < s2; s++) { index.Add(s); weight.Add((float)(1.0 / cellWidth)); }
                    if (f2 - s2 > 1e-3) { index.Add(s2); weight.Add((float)(Math.Min(Math.Min(f2 - s2, 1.0), cellWidth) / cellWidth)); }
                }
                else
                {
                    // Bilinear at OpenCV's area-mode positions.
                    int s = (int)Math.Floor(d * scale);
                    float fraction = (float)((d + 1) - (s + 1) * inverseScale); // float, as OpenCV rounds it
                    fraction = fraction <= 0 ? 0 : fraction - MathF.Floor(fraction);
                    if (s >= sourceSize - 1) { s = sourceSize - 1; fraction = 0; }
                    index.Add(s); weight.Add((float)(1 - fraction));
                    if (fraction > 0) { index.Add(s + 1); weight.Add((float)fraction); }
                }
            }
            start[size] = index.Count;
            return new Taps { Start = start, Index = index.ToArray(), Weight = weight.ToArray() };
        }
    }
}

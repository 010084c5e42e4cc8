using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ongko.Vision;

/// <summary>Grey-level operations on 8-bit planes: local means, division by a background, histogram percentiles.</summary>
public static class Intensity
{
    /// <summary>
    /// Mean over a kernel x kernel window centred on every pixel, OpenCV's <c>blur</c> (normalised box filter,
    /// BORDER_REFLECT_101, result rounded half to even). Running sums, so the cost does not grow with the kernel.
    /// source, destination: [height, width].
    /// </summary>
    public static void BoxMean(ReadOnlySpan<byte> source, Span<byte> destination, int height, int width, int kernel)
    {
        if (kernel < 1 || kernel % 2 == 0) throw new ArgumentException("kernel size must be odd and positive", nameof(kernel));
        int pixels = height * width, r = kernel / 2;
        if (source.Length < pixels || destination.Length < pixels) throw new ArgumentException("buffer shorter than the image");
        int[] rowSumsArray = ArrayPool<int>.Shared.Rent(pixels);
        Span<int> rowSums = rowSumsArray.AsSpan(0, pixels); // [height, width]: sums along rows
        // Where each of the positions -r .. size-1+r reads from (reflected at the borders), looked up once per call.
        int[] columnMapArray = ArrayPool<int>.Shared.Rent(width + 2 * r), rowMapArray = ArrayPool<int>.Shared.Rent(height + 2 * r);
        Span<int> columnMap = columnMapArray.AsSpan(0, width + 2 * r), rowMap = rowMapArray.AsSpan(0, height + 2 * r);
        for (int i = 0; i < columnMap.Length; i++) columnMap[i] = Reflect101(i - r, width);
        for (int i = 0; i < rowMap.Length; i++) rowMap[i] = Reflect101(i - r, height);
        for (int y = 0; y < height; y++)
        {
            var row = source.Slice(y * width, width);
            var sums = rowSums.Slice(y * width, width);
            int sum = 0;
            for (int k = 0; k < kernel; k++) sum += row[columnMap[k]];
            sums[0] = sum;
            for (int x = 1; x < width; x++)
            {
                sum += row[columnMap[x + 2 * r]] - row[columnMap[x - 1]];
                sums[x] = sum;
            }
        }
        int[] columnArray = ArrayPool<int>.Shared.Rent(width);
        Span<int> column = columnArray.AsSpan(0, width); // running sums down the columns
        column.Clear();
        for (int k = 0; k < kernel; k++) TensorPrimitives.Add(column, rowSums.Slice(rowMap[k] * width, width), column);
        double scale = 1.0 / ((double)kernel * kernel);
        for (int y = 0; y < height; y++)
        {
            if (y > 0)
            {
                TensorPrimitives.Add(column, rowSums.Slice(rowMap[y + 2 * r] * width, width), column);
                TensorPrimitives.Subtract(column, rowSums.Slice(rowMap[y - 1] * width, width), column);
            }
            ScaleRound(column, scale, destination.Slice(y * width, width));
        }
        ArrayPool<int>.Shared.Return(rowSumsArray);
        ArrayPool<int>.Shared.Return(columnArray);
        ArrayPool<int>.Shared.Return(columnMapArray);
        ArrayPool<int>.Shared.Return(rowMapArray);
    }

    /// <summary>destination[x] = min(255, round-half-to-even(sums[x] · scale)), four at a time where AVX is there.</summary>
    static void ScaleRound(ReadOnlySpan<int> sums, double scale, Span<byte> destination)
    {
        int x = 0;
        if (Avx.IsSupported)
        {
            var scales = Vector256.Create(scale);
            var most = Vector256.Create(255.0);
            for (; x <= sums.Length - 4; x += 4)
            {
                var values = Avx.ConvertToVector256Double(Vector128.Create(sums[x], sums[x + 1], sums[x + 2], sums[x + 3]));
                // roundpd to nearest is Math.Round's half to even; min before the truncating conversion, as below.
                var rounded = Avx.Min(Avx.RoundToNearestInteger(Avx.Multiply(values, scales)), most);
                var bytes = Avx.ConvertToVector128Int32WithTruncation(rounded);
                destination[x] = (byte)bytes.GetElement(0);
                destination[x + 1] = (byte)bytes.GetElement(1);
                destination[x + 2] = (byte)bytes.GetElement(2);
                destination[x + 3] = (byte)bytes.GetElement(3);
            }
        }
        for (; x < sums.Length; x++) destination[x] = (byte)Math.Min(255, Math.Round(sums[x] * scale));
    }

    /// <summary>
    /// <c>destination = source · 255 / background</c> rounded half to even and saturated, 0 where the background is 0:
    /// OpenCV's <c>divide(source, background, scale=255)</c>. Flattens uneven light when the background is the paper.
    /// Looked up in a table of every (source, background) pair, made once by <see cref="DivideNaive"/>'s arithmetic.
    /// </summary>
    public static void Divide(ReadOnlySpan<byte> source, ReadOnlySpan<byte> background, Span<byte> destination)
    {
        if (background.Length < source.Length || destination.Length < source.Length) throw new ArgumentException("buffer shorter than the source");
        var quotients = Quotients.Table;
        for (int i = 0; i < source.Length; i++) destination[i] = quotients[source[i] << 8 | background[i]];
    }

    /// <summary>The twin of <see cref="Divide"/>: the division pixel by pixel.</summary>
    public static void DivideNaive(ReadOnlySpan<byte> source, ReadOnlySpan<byte> background, Span<byte> destination)
    {
        if (background.Length < source.Length || destination.Length < source.Length) throw new ArgumentException("buffer shorter than the source");
        for (int i = 0; i < source.Length; i++) destination[i] = Quotient(source[i], background[i]);
    }

    static byte Quotient(byte source, byte background)
    {
        if (background == 0) return 0;
        float value = MathF.Round(source * 255f / background);
        return value >= 255 ? (byte)255 : (byte)value;
    }

    /// <summary>Every quotient, [source · 256 + background] (64 KiB), made at first use.</summary>
    static class Quotients
    {
        public static readonly byte[] Table = Make();

        static byte[] Make()
        {
            var table = new byte[256 * 256];
            for (int source = 0; source < 256; source++)
                for (int background = 0; background < 256; background++)
                    table[source << 8 | background] = Quotient((byte)source, (byte)background);
            return table;
        }
    }

    /// <summary>The smallest value v with at least <paramref name="fraction"/> of the histogram's count at or below v.</summary>
    public static int Percentile(ReadOnlySpan<int> histogram, double fraction)
    {
        long total = 0;
        foreach (int count in histogram) total += count;
        if (total == 0) return 0;
        double target = Math.Max(1, Math.Ceiling(fraction * total));
        long seen = 0;
        for (int v = 0; v < histogram.Length; v++)
        {
            seen += histogram[v];
            if (seen >= target) return v;
        }
        return histogram.Length - 1;
    }

    /// <summary>OpenCV's BORDER_REFLECT_101 (gfedcb|abcdefgh|gfedcba), repeated for windows wider than the image.</summary>
    public static int Reflect101(int i, int size)
    {
        if (size == 1) return 0;
        while ((uint)i >= (uint)size) i = i < 0 ? -i : 2 * size - 2 - i;
        return i;
    }
}

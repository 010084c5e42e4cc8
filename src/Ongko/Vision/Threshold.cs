using System.Numerics;

namespace Ongko.Vision;

/// <summary>Global thresholding: Otsu's threshold value and binarisation, with OpenCV's semantics.</summary>
public static class Threshold
{
    const double FltEpsilon = 1.1920928955078125e-07; // C's FLT_EPSILON, as OpenCV uses it

    /// <summary>
    /// Otsu's threshold of an 8-bit plane, computed exactly as OpenCV's <c>THRESH_OTSU</c> does
    /// (double precision between-class variance, first maximum wins, near-empty classes skipped).
    /// </summary>
    public static byte Otsu(ReadOnlySpan<byte> pixels)
    {
        Span<int> histogram = stackalloc int[256];
        histogram.Clear();
        foreach (byte value in pixels) histogram[value]++;

        double scale = 1.0 / pixels.Length, mean = 0;
        for (int i = 0; i < 256; i++) mean += i * (double)histogram[i];
        mean *= scale;

        double q1 = 0, mean1 = 0, maxSigma = 0;
        int best = 0;
        for (int i = 0; i < 256; i++)
        {
            double probability = histogram[i] * scale;
            mean1 *= q1;
            q1 += probability;
            double q2 = 1.0 - q1;
            if (Math.Min(q1, q2) < FltEpsilon || Math.Max(q1, q2) > 1.0 - FltEpsilon)
            {
                if (q2 < FltEpsilon) break;   // q1 only grows from here on, so every higher level is skipped too
                continue;
            }
            mean1 = (mean1 + i * probability) / q1;
            double mean2 = (mean - q1 * mean1) / q2;
            double sigma = q1 * q2 * (mean1 - mean2) * (mean1 - mean2);
            if (sigma > maxSigma) { maxSigma = sigma; best = i; }
        }
        return (byte)best;
    }

    /// <summary><c>destination = source &gt; threshold ? 255 : 0</c> (OpenCV's THRESH_BINARY with maxval 255).</summary>
    public static void Binary(ReadOnlySpan<byte> source, Span<byte> destination, byte threshold)
    {
        if (destination.Length < source.Length) throw new ArgumentException("destination is shorter than source");
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var limit = new Vector<byte>(threshold);
            for (; i <= source.Length - Vector<byte>.Count; i += Vector<byte>.Count)
                Vector.GreaterThan(new Vector<byte>(source.Slice(i)), limit).CopyTo(destination.Slice(i));
        }
        for (; i < source.Length; i++) destination[i] = source[i] > threshold ? (byte)255 : (byte)0;
    }

    /// <summary>255 - value for every pixel.</summary>
    public static void Invert(Span<byte> pixels)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i <= pixels.Length - Vector<byte>.Count; i += Vector<byte>.Count)
                (~new Vector<byte>(pixels.Slice(i))).CopyTo(pixels.Slice(i));
        for (; i < pixels.Length; i++) pixels[i] = (byte)(255 - pixels[i]);
    }

    /// <summary>
    /// True when the image's border ring is light on average (a dark digit on a light background),
    /// the test behind <c>reverse: auto</c>.
    /// </summary>
    public static bool HasLightBackground(ReadOnlySpan<byte> plane, int height, int width)
    {
        long sum = 0; int count = 0;
        for (int x = 0; x < width; x++) { sum += plane[x] + plane[(height - 1) * width + x]; count += 2; }
        for (int y = 1; y < height - 1; y++) { sum += plane[y * width] + plane[y * width + width - 1]; count += 2; }
        return sum > 127.5 * count;
    }
}

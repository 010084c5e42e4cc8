using Ongko.Tensors;
using SkiaSharp;

namespace Ongko.Cli.Synth;

/// <summary>One synthetic digit: a square greyscale picture, dark ink on light paper like raw NumtaDB.</summary>
/// <param name="Digit">The digit's value, 0..9.</param>
/// <param name="Size">Width and height in pixels.</param>
/// <param name="Pixels">Size*Size grey levels, row-major, 0 = black ink, 255 = white paper.</param>
public sealed record SyntheticDigit(int Digit, int Size, byte[] Pixels);

/// <summary>
/// Draws Bengali digits as randomized pen strokes: each digit's hand-designed skeleton
/// (<see cref="DigitSkeletons"/>) gets per-point jitter, a smooth spline, an elastic distortion,
/// rotation, slant, aspect, size, position and stroke width of its own, and is rendered
/// anti-aliased with Skia onto slightly varying paper with a little noise.
/// Sample i is digit i mod 10 (so any prefix is balanced) and depends only on (seed, i), so the
/// result is the same for a seed however many threads draw it.
/// </summary>
public static class SyntheticDigits
{
    public const int DefaultSize = 128;
    public const int MinimumSize = 16;
    public const int MaximumSize = 1024;

    /// <summary>Draws <paramref name="count"/> digits, balanced over 0..9, in parallel, deterministically for <paramref name="seed"/>.</summary>
    public static SyntheticDigit[] Generate(int count, ulong seed, int size = DefaultSize)
    {
        Validate(count, size);
        var digits = new SyntheticDigit[count];
        Parallel.For(0, count, i => digits[i] = Render(DigitOf(i), SampleSeed(seed, i), size));
        return digits;
    }

    /// <summary>The digit of sample <paramref name="index"/>: index mod 10.</summary>
    public static int DigitOf(int index) => index % 10;

    /// <summary>The seed of sample <paramref name="index"/>'s own generator.</summary>
    public static ulong SampleSeed(ulong seed, int index)
    {
        ulong z = unchecked(seed + 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return unchecked((z ^ (z >> 31)) + (ulong)index * 0xD1B54A32D192ED03UL);
    }

    internal static void Validate(int count, int size)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), count, "count must be a positive number of images");
        if (size < MinimumSize || size > MaximumSize)
            throw new ArgumentOutOfRangeException(nameof(size), size, $"size must be between {MinimumSize} and {MaximumSize} pixels");
    }

    /// <summary>Draws one digit with its own generator seeded by <paramref name="sampleSeed"/>.</summary>
    public static SyntheticDigit Render(int digit, ulong sampleSeed, int size = DefaultSize)
    {
        if ((uint)digit > 9) throw new ArgumentOutOfRangeException(nameof(digit), digit, "digit must be 0..9");
        Validate(1, size);
        var rng = new Rng(sampleSeed);
        var variants = DigitSkeletons.Variants[digit];
        var skeleton = variants[rng.NextInt(variants.Length)];

        // 1. Jitter the control points, then pass a smooth spline through them.
        float jitter = Uniform(rng, 0.012f, 0.035f);
        var strokes = new List<(float X, float Y)[]>(skeleton.Length);
        foreach (var stroke in skeleton)
        {
            var points = new (float X, float Y)[stroke.Length];
            for (int i = 0; i < stroke.Length; i++)
                points[i] = (stroke[i].X + jitter * Gaussian(rng), stroke[i].Y + jitter * Gaussian(rng));
            strokes.Add(CatmullRom(points, samplesPerSegment: 12));
        }
        // A second stroke that starts on the first keeps touching it: move its start onto the first stroke.
        for (int s = 1; s < strokes.Count; s++) SnapStartOnto(strokes[s], strokes[0]);

        // 2. Elastic distortion: a smooth random displacement field of a few low-frequency waves.
        var waves = new (float Fx, float Fy, float Phase, float Ax, float Ay)[3];
        float elastic = Uniform(rng, 0f, 0.03f);
        for (int k = 0; k < waves.Length; k++)
        {
            float angle = Uniform(rng, 0f, MathF.Tau), frequency = Uniform(rng, 0.6f, 1.8f);
            waves[k] = (frequency * MathF.Cos(angle), frequency * MathF.Sin(angle), Uniform(rng, 0f, MathF.Tau),
                        elastic * Gaussian(rng), elastic * Gaussian(rng));
        }

        // 3. Affine: aspect, slant (shear) and rotation about the centre.
        float aspect = MathF.Exp(0.12f * Gaussian(rng));
        float slant = Uniform(rng, -0.3f, 0.25f);
        float rotation = Math.Clamp(0.13f * Gaussian(rng), -0.26f, 0.26f);
        float cos = MathF.Cos(rotation), sin = MathF.Sin(rotation);
        float minX = float.MaxValue, minY = float.MaxValue, maxX = float.MinValue, maxY = float.MinValue;
        foreach (var points in strokes)
            for (int i = 0; i < points.Length; i++)
            {
                var (x, y) = points[i];
                float dx = 0, dy = 0;
                foreach (var w in waves)
                {
                    float s = MathF.Sin(MathF.Tau * (w.Fx * x + w.Fy * y) + w.Phase);
                    dx += w.Ax * s; dy += w.Ay * s;
                }
                x = (x + dx - 0.5f) * aspect; y = y + dy - 0.5f;
                x -= slant * y;
                (x, y) = (cos * x - sin * y, sin * x + cos * y);
                points[i] = (x, y);
                minX = MathF.Min(minX, x); maxX = MathF.Max(maxX, x);
                minY = MathF.Min(minY, y); maxY = MathF.Max(maxY, y);
            }

        // 4. Size, stroke width and position in the picture.
        float extent = size * Uniform(rng, 0.5f, 0.86f);
        float strokeWidth = MathF.Max(1.5f, extent * Uniform(rng, 0.045f, 0.13f));
        float scale = (extent - strokeWidth) / MathF.Max(maxX - minX, maxY - minY);
        float glyphWidth = (maxX - minX) * scale + strokeWidth, glyphHeight = (maxY - minY) * scale + strokeWidth;
        float left = Uniform(rng, 1f, MathF.Max(1f, size - 1 - glyphWidth)) + strokeWidth / 2;
        float top = Uniform(rng, 1f, MathF.Max(1f, size - 1 - glyphHeight)) + strokeWidth / 2;

        using var path = new SKPath();
        foreach (var points in strokes)
        {
            path.MoveTo(left + (points[0].X - minX) * scale, top + (points[0].Y - minY) * scale);
            for (int i = 1; i < points.Length; i++)
                path.LineTo(left + (points[i].X - minX) * scale, top + (points[i].Y - minY) * scale);
        }
        using var coverage = new SKBitmap(new SKImageInfo(size, size, SKColorType.Alpha8, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(coverage))
        using (var pen = new SKPaint
        {
            IsAntialias = true, Style = SKPaintStyle.Stroke, StrokeWidth = strokeWidth,
            StrokeCap = SKStrokeCap.Round, StrokeJoin = SKStrokeJoin.Round, Color = SKColors.Black,
        })
        {
            canvas.Clear(SKColors.Transparent);
            canvas.DrawPath(path, pen);
            canvas.Flush();
        }

        // 5. Ink on paper: paper tone with a gentle gradient, ink tone, sensor noise.
        float paper = Uniform(rng, 220f, 255f), ink = Uniform(rng, 0f, 70f), noise = rng.NextFloat() < 0.5f ? 0f : Uniform(rng, 0f, 3f);
        float gradientX = Uniform(rng, -12f, 12f) / size, gradientY = Uniform(rng, -12f, 12f) / size;
        ReadOnlySpan<byte> cover = coverage.GetPixelSpan();
        int stride = coverage.RowBytes;
        var pixels = new byte[size * size];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                float background = paper + gradientX * (x - size / 2f) + gradientY * (y - size / 2f);
                float alpha = cover[y * stride + x] * (1f / 255f);
                float value = background + (ink - background) * alpha + noise * Gaussian(rng);
                pixels[y * size + x] = (byte)Math.Clamp(MathF.Round(value), 0f, 255f);
            }
        return new SyntheticDigit(digit, size, pixels);
    }

    /// <summary>Encodes a digit as an 8-bit greyscale PNG.</summary>
    public static byte[] EncodePng(SyntheticDigit digit)
    {
        var info = new SKImageInfo(digit.Size, digit.Size, SKColorType.Gray8, SKAlphaType.Opaque);
        using var bitmap = new SKBitmap(info);
        digit.Pixels.CopyTo(bitmap.GetPixelSpan());
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException("could not encode a synthetic digit as PNG");
        return data.ToArray();
    }

    static float Uniform(Rng rng, float low, float high) => low + (high - low) * rng.NextFloat();

    static float Gaussian(Rng rng) => (float)rng.NextGaussian();

    /// <summary>Moves the first point of <paramref name="stroke"/> onto the nearest point of <paramref name="onto"/>.</summary>
    static void SnapStartOnto((float X, float Y)[] stroke, (float X, float Y)[] onto)
    {
        var start = stroke[0];
        float best = float.MaxValue; (float X, float Y) nearest = start;
        foreach (var p in onto)
        {
            float d = (p.X - start.X) * (p.X - start.X) + (p.Y - start.Y) * (p.Y - start.Y);
            if (d < best) { best = d; nearest = p; }
        }
        // Shift the first few points by a fading amount so the stroke bends smoothly to its new start.
        float shiftX = nearest.X - start.X, shiftY = nearest.Y - start.Y;
        int fade = Math.Min(12, stroke.Length);
        for (int i = 0; i < fade; i++)
        {
            float weight = 1f - (float)i / fade;
            stroke[i] = (stroke[i].X + shiftX * weight, stroke[i].Y + shiftY * weight);
        }
    }

    /// <summary>
    /// Centripetal Catmull-Rom spline through <paramref name="points"/> (no overshoot loops at sharp
    /// turns), with <paramref name="samplesPerSegment"/> samples between neighbouring points.
    /// </summary>
    internal static (float X, float Y)[] CatmullRom((float X, float Y)[] points, int samplesPerSegment)
    {
        int n = points.Length;
        if (n < 2) return [.. points];
        var result = new List<(float X, float Y)>((n - 1) * samplesPerSegment + 1);
        for (int i = 0; i < n - 1; i++)
        {
            var p1 = points[i];
            var p2 = points[i + 1];
            // Mirror the end points to get tangents at the stroke's ends.
            var p0 = i > 0 ? points[i - 1] : (2 * p1.X - p2.X, 2 * p1.Y - p2.Y);
            var p3 = i + 2 < n ? points[i + 2] : (2 * p2.X - p1.X, 2 * p2.Y - p1.Y);
            float t0 = 0;
            float t1 = t0 + Knot(p0, p1), t2 = t1 + Knot(p1, p2), t3 = t2 + Knot(p2, p3);
            for (int s = 0; s < samplesPerSegment; s++)
            {
                float t = t1 + (t2 - t1) * s / samplesPerSegment;
                result.Add(Barry(p0, p1, p2, p3, t0, t1, t2, t3, t));
            }
        }
        result.Add(points[n - 1]);
        return [.. result];
    }

    static float Knot((float X, float Y) a, (float X, float Y) b)
    {
        float d = MathF.Sqrt((b.X - a.X) * (b.X - a.X) + (b.Y - a.Y) * (b.Y - a.Y));
        return MathF.Max(MathF.Sqrt(d), 1e-4f);
    }

    /// <summary>Barry-Goldman pyramid evaluation of the Catmull-Rom segment between p1 and p2.</summary>
    static (float X, float Y) Barry((float X, float Y) p0, (float X, float Y) p1, (float X, float Y) p2, (float X, float Y) p3,
                                    float t0, float t1, float t2, float t3, float t)
    {
        static (float X, float Y) Lerp((float X, float Y) a, (float X, float Y) b, float ta, float tb, float t)
        {
            float u = (t - ta) / (tb - ta);
            return (a.X + (b.X - a.X) * u, a.Y + (b.Y - a.Y) * u);
        }
        var a1 = Lerp(p0, p1, t0, t1, t); var a2 = Lerp(p1, p2, t1, t2, t); var a3 = Lerp(p2, p3, t2, t3, t);
        var b1 = Lerp(a1, a2, t0, t2, t); var b2 = Lerp(a2, a3, t1, t3, t);
        return Lerp(b1, b2, t1, t2, t);
    }
}

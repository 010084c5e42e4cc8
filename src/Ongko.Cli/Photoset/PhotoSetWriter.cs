using System.Globalization;
using System.Text;
using Ongko.Data;
using Ongko.Tensors;
using Ongko.Vision;
using SkiaSharp;

namespace Ongko.Cli.Photoset;

/// <summary>
/// A photo-like validation set: held-out digits rendered the way a phone photo or a scan of a digit on paper looks.
/// Each digit becomes an ink-coverage map (its own polarity undone), is rotated slightly, scaled to 12-90 % of a
/// larger canvas's height and placed anywhere on it; the canvas is paper (a light tint, a low-frequency texture and
/// grain), lit unevenly (a linear gradient and a soft shadow blob), the ink a dark pen colour of varying strength,
/// the whole slightly out of focus at times, and saved as JPEG at quality 35-95. Seeded: the same inputs and seed give
/// the same files. Written in NumtaDB's layout (<c>photo/</c> + <c>photo.csv</c>), so every command reads it.
/// </summary>
public static class PhotoSetWriter
{
    public const string FolderName = "photo";

    public sealed record Result(int Count, string ImageFolder, string CsvPath, IReadOnlyDictionary<string, int> PerSource);

    public static Result Write(IReadOnlyList<Sample> samples, string outputDirectory, ulong seed)
    {
        string imageFolder = Path.Combine(outputDirectory, FolderName);
        Directory.CreateDirectory(imageFolder);
        var csv = new StringBuilder("filename,digit,database name original,source file,canvas,digit height\n");
        var perSource = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var rows = new string[samples.Count];
        Parallel.For(0, samples.Count, new ParallelOptions { MaxDegreeOfParallelism = 2 }, i =>
        {
            var sample = samples[i];
            var rng = new Rng(seed * 1_000_003UL + (ulong)i);
            var digit = sample.Image ?? ImageDecoder.Decode(sample.Path!, 1);
            var (pixels, height, width, digitHeight) = Render(digit, rng);
            string name = $"photo_{i:D5}.jpg";
            int quality = 35 + rng.NextInt(61);
            SaveJpeg(Path.Combine(imageFolder, name), pixels, height, width, quality);
            rows[i] = $"{name},{sample.Label},{CsvTable.Quote(sample.Source)},{CsvTable.Quote(sample.Name)},{width}x{height},{digitHeight}";
        });
        foreach (var row in rows) csv.Append(row).Append('\n');
        foreach (var sample in samples) perSource[sample.Source] = perSource.GetValueOrDefault(sample.Source) + 1;
        string csvPath = Path.Combine(outputDirectory, FolderName + ".csv");
        Serialization.AtomicFile.WriteAllText(csvPath, csv.ToString());
        return new Result(samples.Count, imageFolder, csvPath, perSource);
    }

    /// <summary>One photo-like RGB picture (interleaved bytes) of the digit, and the digit's height in it.</summary>
    public static (byte[] Rgb, int Height, int Width, int DigitHeight) Render(ByteImage digit, Rng rng)
    {
        float[] coverage = InkCoverage(digit);
        int sourceHeight = digit.Height, sourceWidth = digit.Width;
        var box = InkBox(coverage, sourceHeight, sourceWidth);

        int height = 96 + rng.NextInt(225);                           // 96..320
        int width = (int)(height * (0.75 + 0.75 * rng.NextDouble()));   // 0.75..1.5 x the height
        double fraction = Math.Max(0.12, 20.0 / height) + rng.NextDouble() * (0.9 - Math.Max(0.12, 20.0 / height));
        double scale = fraction * height / box.Height;
        double angle = (rng.NextDouble() * 2 - 1) * 8 * Math.PI / 180;
        double aspect = 0.9 + 0.2 * rng.NextDouble();
        // The rotated digit's half extents; the canvas grows (or the digit shrinks) until the whole digit fits on it.
        double HalfWidth() => Math.Abs(Math.Cos(angle)) * 0.5 * scale * aspect * box.Width + Math.Abs(Math.Sin(angle)) * 0.5 * scale * box.Height + 2;
        double HalfHeight() => Math.Abs(Math.Sin(angle)) * 0.5 * scale * aspect * box.Width + Math.Abs(Math.Cos(angle)) * 0.5 * scale * box.Height + 2;
        if (2 * HalfHeight() > height) scale *= (height - 4) / (2 * HalfHeight() - 4);
        width = Math.Max(width, (int)Math.Ceiling(2 * HalfWidth()));
        double halfWidth = HalfWidth(), halfHeight = HalfHeight();
        // Where the ink box's centre lands: anywhere that keeps the digit on the canvas.
        double cx = halfWidth + rng.NextDouble() * Math.Max(0, width - 2 * halfWidth);
        double cy = halfHeight + rng.NextDouble() * Math.Max(0, height - 2 * halfHeight);
        double boxCx = box.X + box.Width / 2.0 - 0.5, boxCy = box.Y + box.Height / 2.0 - 0.5;

        // Canvas pixel -> digit pixel: undo the placement, rotation and scale.
        double cos = Math.Cos(angle), sin = Math.Sin(angle);
        var ink = new float[height * width];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                double dx = x - cx, dy = y - cy;
                double u = (cos * dx + sin * dy) / (scale * aspect) + boxCx, v = (-sin * dx + cos * dy) / scale + boxCy;
                ink[y * width + x] = Bilinear(coverage, sourceHeight, sourceWidth, u, v);
            }

        // Paper: tint, low-frequency texture, grain; light: a gradient and a soft shadow.
        double paperR = 215 + 35 * rng.NextDouble(), paperG = paperR - 15 * rng.NextDouble(), paperB = paperG - 30 * rng.NextDouble();
        double penR = 20 + 60 * rng.NextDouble(), penG = 20 + 50 * rng.NextDouble(), penB = 25 + 110 * rng.NextDouble();
        double strength = 0.65 + 0.35 * rng.NextDouble();
        double gradient = 0.5 * rng.NextDouble(), direction = rng.NextDouble() * 2 * Math.PI;
        double shadow = rng.NextDouble() < 0.5 ? 0.35 * rng.NextDouble() : 0;
        double shadowX = rng.NextDouble() * width, shadowY = rng.NextDouble() * height, shadowRadius = (0.3 + 0.5 * rng.NextDouble()) * Math.Max(height, width);
        double grain = 2 + 10 * rng.NextDouble(), textureAmount = 12 * rng.NextDouble();
        float[] texture = LowFrequencyNoise(height, width, 8, rng);
        double diagonal = Math.Sqrt((double)height * height + (double)width * width);

        var planes = new float[3][];
        for (int c = 0; c < 3; c++) planes[c] = new float[height * width];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int i = y * width + x;
                double along = ((x - width / 2.0) * Math.Cos(direction) + (y - height / 2.0) * Math.Sin(direction)) / diagonal + 0.5;
                double light = 1 - gradient * along;
                if (shadow > 0)
                {
                    double r2 = ((x - shadowX) * (x - shadowX) + (y - shadowY) * (y - shadowY)) / (shadowRadius * shadowRadius);
                    light *= 1 - shadow * Math.Exp(-r2);
                }
                double paperNoise = textureAmount * texture[i] + grain * rng.NextGaussian();
                double a = Math.Clamp(strength * ink[i], 0, 1);
                planes[0][i] = (float)(light * ((1 - a) * (paperR + paperNoise) + a * penR));
                planes[1][i] = (float)(light * ((1 - a) * (paperG + paperNoise) + a * penG));
                planes[2][i] = (float)(light * ((1 - a) * (paperB + paperNoise) + a * penB));
            }
        if (rng.NextDouble() < 0.5)
        {
            double sigma = 0.4 + 0.8 * rng.NextDouble();
            foreach (var plane in planes) Blur.Gaussian(plane, height, width, sigma);
        }
        var rgb = new byte[3 * height * width];
        for (int i = 0; i < height * width; i++)
            for (int c = 0; c < 3; c++) rgb[3 * i + c] = (byte)Math.Clamp((int)Math.Round(planes[c][i]), 0, 255);
        return (rgb, height, width, (int)Math.Round(scale * box.Height));
    }

    /// <summary>Ink coverage in [0, 1] of a grey digit image, whichever its polarity: 0 on the background, 1 on full strokes.</summary>
    static float[] InkCoverage(ByteImage digit)
    {
        byte[] grey = digit.ToGrey();
        if (Threshold.HasLightBackground(grey, digit.Height, digit.Width)) Threshold.Invert(grey);
        Span<int> histogram = stackalloc int[256];
        histogram.Clear();
        foreach (byte v in grey) histogram[v]++;
        // Low and high percentiles, not the median: a bold digit can cover more than half of a tight crop.
        int background = Intensity.Percentile(histogram, 0.02), stroke = Math.Max(background + 1, Intensity.Percentile(histogram, 0.98));
        var coverage = new float[grey.Length];
        for (int i = 0; i < grey.Length; i++) coverage[i] = Math.Clamp((grey[i] - background) / (float)(stroke - background), 0f, 1f);
        return coverage;
    }

    static PixelBox InkBox(float[] coverage, int height, int width)
    {
        int x0 = width, y0 = height, x1 = -1, y1 = -1;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                if (coverage[y * width + x] > 0.3f) { x0 = Math.Min(x0, x); x1 = Math.Max(x1, x); y0 = Math.Min(y0, y); y1 = Math.Max(y1, y); }
        return x1 < 0 ? new PixelBox(0, 0, width, height) : new PixelBox(x0, y0, x1 - x0 + 1, y1 - y0 + 1);
    }

    static float Bilinear(float[] plane, int height, int width, double x, double y)
    {
        if (!(x > -1 && x < width && y > -1 && y < height)) return 0;
        int x0 = (int)Math.Floor(x), y0 = (int)Math.Floor(y);
        float fx = (float)(x - x0), fy = (float)(y - y0);
        float At(int yy, int xx) => (uint)yy < (uint)height && (uint)xx < (uint)width ? plane[yy * width + xx] : 0f;
        return (1 - fy) * ((1 - fx) * At(y0, x0) + fx * At(y0, x0 + 1)) + fy * ((1 - fx) * At(y0 + 1, x0) + fx * At(y0 + 1, x0 + 1));
    }

    /// <summary>Smooth noise in about [-1, 1]: a coarse grid of Gaussian values, bilinearly interpolated.</summary>
    static float[] LowFrequencyNoise(int height, int width, int cells, Rng rng)
    {
        int gh = cells + 2, gw = cells + 2;
        var grid = new float[gh * gw];
        for (int i = 0; i < grid.Length; i++) grid[i] = (float)rng.NextGaussian();
        var noise = new float[height * width];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                noise[y * width + x] = Bilinear(grid, gh, gw, x * (double)cells / width, y * (double)cells / height);
        return noise;
    }

    static void SaveJpeg(string path, byte[] rgb, int height, int width, int quality)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var pixels = new byte[4 * height * width];
        for (int i = 0; i < height * width; i++)
        {
            pixels[4 * i] = rgb[3 * i]; pixels[4 * i + 1] = rgb[3 * i + 1]; pixels[4 * i + 2] = rgb[3 * i + 2]; pixels[4 * i + 3] = 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, quality);
        using var file = File.Create(path);
        data.SaveTo(file);
    }
}

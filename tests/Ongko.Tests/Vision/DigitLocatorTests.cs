using Ongko.Data;
using Ongko.Tensors;
using Ongko.Tests.Data;
using Ongko.Vision;

namespace Ongko.Tests.Vision;

/// <summary>The steps of <see cref="DigitLocator"/> against OpenCV (fixtures/make_vision_fixtures.py), then the whole locator.</summary>
public class DigitLocatorTests
{
    [Fact]
    public void LargeKernelClosingMatchesOpenCvExactly() => EachCase("bigclose", 4, (_, values, shape, input) =>
    {
        var actual = new byte[input.Length];
        Morphology.Close(input, actual, shape[0], shape[1], int.Parse(values["kernel"]));
        return actual;
    });

    [Fact]
    public void DivisionByTheBackgroundMatchesOpenCvDivide() => EachCase("divide", 2, (name, _, _, input) =>
    {
        var (_, background) = DataTestSupport.ReadU8(name + "_background");
        var actual = new byte[input.Length];
        Intensity.Divide(input, background, actual);
        return actual;
    });

    [Fact]
    public void BoxMeanMatchesOpenCvBlur() => EachCase("boxmean", 6, (_, values, shape, input) =>
    {
        var actual = new byte[input.Length];
        Intensity.BoxMean(input, actual, shape[0], shape[1], int.Parse(values["kernel"]));
        return actual;
    });

    /// <summary>Every fixture case of a kind: NAME_in through <paramref name="run"/> must equal NAME_out pixel for pixel.</summary>
    static void EachCase(string kind, int expectedCount, Func<string, Dictionary<string, string>, int[], byte[], byte[]> run)
    {
        int count = 0;
        foreach (var (name, values) in DataTestSupport.Cases(kind))
        {
            var (shape, input) = DataTestSupport.ReadU8(name + "_in");
            var (_, expected) = DataTestSupport.ReadU8(name + "_out");
            var actual = run(name, values, shape, input);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(expected[i] == actual[i], $"{name} ({shape[0]}x{shape[1]} {string.Join(' ', values.Select(v => v.Key + "=" + v.Value))}) pixel {i}: {actual[i]}, OpenCV {expected[i]}");
            count++;
        }
        Assert.Equal(expectedCount, count);
    }

    [Fact]
    public void RegionsAndTheirStatisticsMatchOpenCvConnectedComponentsWithStats()
    {
        int count = 0;
        foreach (var (name, values) in DataTestSupport.Cases("regions"))
        {
            var (shape, mask) = DataTestSupport.ReadU8(name + "_in");
            var (_, packed) = DataTestSupport.ReadU8(name + "_labels");
            int h = shape[0], w = shape[1], pixels = h * w;
            var labels = new int[pixels];
            var regions = Components.Label(mask, h, w, labels);
            var expected = values["stats"].Split(';').Select(row => row.Split(',').Select(int.Parse).ToArray())
                .Select(s => (new PixelBox(s[0], s[1], s[2], s[3]), s[4])).ToList();
            Assert.Equal(int.Parse(values["count"]), regions.Count);
            // The same regions (OpenCV's numbering can differ from row-major order of the first pixel, so compare as sets)
            // and the same partition of the pixels: a one-to-one map between the two label pictures.
            Assert.Equal(expected.OrderBy(e => e.ToString()), regions.Select(r => (r.Box, r.Area)).OrderBy(e => e.ToString()));
            var ours = new Dictionary<int, int>(); var theirs = new Dictionary<int, int>();
            for (int i = 0; i < pixels; i++)
            {
                int opencv = packed[i] + 256 * packed[pixels + i];
                Assert.True(ours.TryAdd(labels[i], opencv) || ours[labels[i]] == opencv, $"{name} pixel {i}: region {labels[i]} spans two OpenCV regions");
                Assert.True(theirs.TryAdd(opencv, labels[i]) || theirs[opencv] == labels[i], $"{name} pixel {i}: OpenCV region {opencv} spans two regions");
            }
            count++;
        }
        Assert.Equal(3, count);
    }

    [Fact]
    public void PercentileIsTheInvertedCumulativeDistribution()
    {
        int[] histogram = new int[256];
        histogram[3] = 5; histogram[10] = 4; histogram[200] = 1;
        Assert.Equal(3, Intensity.Percentile(histogram, 0.5));
        Assert.Equal(10, Intensity.Percentile(histogram, 0.51));
        Assert.Equal(10, Intensity.Percentile(histogram, 0.9));
        Assert.Equal(200, Intensity.Percentile(histogram, 0.95));
        Assert.Equal(0, Intensity.Percentile(new int[256], 0.5));
    }

    /// <summary>
    /// One digit drawn every way a user might photograph it: light or dark ink, on a canvas 1-8x its size, anywhere,
    /// at 6-100 % of the height, lit unevenly, with grain. The normalised pictures must all look like the plainly drawn
    /// one (the same strokes, in the same place), and the box must hold the digit.
    /// </summary>
    [Fact]
    public void TheSameDigitComesOutAlikeWhateverItsFraming()
    {
        var reference = DigitLocator.Normalize(Paint(64, 64, new PixelBox(12, 8, 40, 48), dark: false, light: 0, grain: 0, seed: 1), 28, 28);
        Assert.True(reference.Found);
        Assert.False(reference.DarkInk);
        var cases = new (int Height, int Width, PixelBox Digit, bool Dark, double Light, double Grain)[]
        {
            (64, 64, new PixelBox(12, 8, 40, 48), true, 0, 0),          // dark on light
            (48, 40, new PixelBox(0, 0, 40, 48), true, 0.3, 4),         // 100 % of the height, touching every side
            (300, 400, new PixelBox(300, 20, 60, 72), true, 0.5, 8),    // top right, uneven light, grain
            (240, 320, new PixelBox(40, 180, 12, 15), true, 0.4, 5),    // 6 % of the height, bottom left
            (200, 160, new PixelBox(50, 40, 70, 84), false, 0.3, 6),    // light ink on a dark board
            (900, 700, new PixelBox(350, 420, 150, 180), true, 0.5, 6), // a big picture (searched shrunk, then refined)
        };
        foreach (var (height, width, digit, dark, light, grain) in cases)
        {
            var picture = Paint(height, width, digit, dark, light, grain, seed: height);
            var located = DigitLocator.Normalize(picture, 28, 28);
            string what = $"{height}x{width} digit at {digit}, {(dark ? "dark" : "light")} ink";
            Assert.True(located.Found, what + ": not found");
            Assert.Equal(dark, located.DarkInk);
            var b = located.Box;
            Assert.True(Math.Abs(b.X - digit.X) <= digit.Width / 8 + 2 && Math.Abs(b.Y - digit.Y) <= digit.Height / 8 + 2
                        && Math.Abs(b.Width - digit.Width) <= digit.Width / 6 + 2 && Math.Abs(b.Height - digit.Height) <= digit.Height / 6 + 2,
                $"{what}: box {b}");
            double similarity = Correlation(reference.Image.Data, located.Image.Data);
            if (Environment.GetEnvironmentVariable("ONGKO_DUMP") is { } dump)
                File.WriteAllBytes(Path.Combine(dump, $"case{height}x{width}.pgm"), [.. System.Text.Encoding.ASCII.GetBytes("P5 28 28 255\n"), .. located.Image.Data]);
            Assert.True(similarity > 0.8, $"{what}: correlation with the plain drawing's picture {similarity:F2}");
        }
    }

    [Fact]
    public void BlankOrTinyPicturesGiveAnEmptyResultNotAnError()
    {
        var blank = new ByteImage(3, 50, 70);
        Array.Fill(blank.Data, (byte)200);
        var located = DigitLocator.Normalize(blank, 28, 28);
        Assert.False(located.Found);
        Assert.All(located.Image.Data, v => Assert.Equal(0, v));
        var one = DigitLocator.Normalize(new ByteImage(1, 1, 1), 28, 28);
        Assert.Equal(28 * 28, one.Image.Data.Length);
        var grain = new ByteImage(1, 80, 80);
        var rng = new Rng(4);
        for (int i = 0; i < grain.Data.Length; i++) grain.Data[i] = (byte)(180 + rng.NextInt(12));
        Assert.False(DigitLocator.Normalize(grain, 28, 28).Found, "paper grain alone is not a digit");
    }

    [Fact]
    public void SpecksAndFarMarksAreLeftOutOfTheBox()
    {
        var picture = Paint(200, 200, new PixelBox(60, 50, 60, 80), dark: true, light: 0, grain: 2, seed: 3);
        var plane = picture.Plane(0);
        for (int y = 5; y < 8; y++) for (int x = 5; x < 8; x++) plane[y * 200 + x] = 30;      // a speck in the corner
        for (int y = 180; y < 183; y++) for (int x = 150; x < 195; x++) plane[y * 200 + x] = 30; // a short line far away
        var located = DigitLocator.Normalize(picture, 28, 28);
        Assert.True(located.Box.X >= 55 && located.Box.Y >= 45 && located.Box.X + located.Box.Width <= 125 && located.Box.Y + located.Box.Height <= 135,
            $"box {located.Box}");
    }

    [Fact]
    public void ASolidPatchLargerThanTheDigitIsPassedOverInPhotos()
    {
        // A smudge or hard shadow: a solid dark ellipse with twice the digit's area, away from it.
        var picture = Paint(240, 320, new PixelBox(200, 60, 50, 60), dark: true, light: 0.2, grain: 3, seed: 8);
        var plane = picture.Plane(0);
        for (int y = 0; y < 240; y++)
            for (int x = 0; x < 320; x++)
                if ((x - 80) * (x - 80) / 2500.0 + (y - 170) * (y - 170) / 1600.0 < 1) plane[y * 320 + x] = (byte)(plane[y * 320 + x] * 0.45);
        var located = DigitLocator.Normalize(picture, 28, 28);
        Assert.True(located.Box.X >= 190 && located.Box.Y >= 50 && located.Box.X + located.Box.Width <= 260, $"box {located.Box}");
    }

    [Fact]
    public void PipelineNormalizeDigitGivesTheLocatorsPictureAndRejectsTheReferenceCrop()
    {
        var options = new AugmentOptions { Height = 28, Width = 28, Channels = 1, Normalize = NormalizeMode.Digit };
        var picture = Paint(120, 90, new PixelBox(20, 30, 40, 50), dark: true, light: 0.3, grain: 3, seed: 9);
        var rendered = new float[28 * 28];
        new ImagePipeline(options).Process(picture, null, rendered);
        var expected = DigitLocator.Normalize(picture, 28, 28).Image.Data;
        for (int i = 0; i < rendered.Length; i++) Assert.True(Math.Abs(expected[i] / 255f - rendered[i]) < 1e-6, $"pixel {i}");
        options.UseBoundingBox = true;
        var error = Assert.Throws<ArgumentException>(() => new ImagePipeline(options));
        Assert.Contains("use_bbox", error.Message);
    }

    [RealDataFact("cmaterdb", "numtadb28")]
    public void RealDigitsOfBothPolaritiesAreFoundAndComeOutLightOnDark()
    {
        var cmater = NumtaDbReader.Read(DataTestSupport.SharedData("cmaterdb")!, ["training"]).Where((_, i) => i % 250 == 0).ToList();
        var numta = NumtaDbReader.Read(DataTestSupport.SharedData("numtadb28")!, ["training-a"]).Where((_, i) => i % 1000 == 0).ToList();
        foreach (var (samples, dark) in new[] { (cmater, true), (numta, false) })
            foreach (var sample in samples)
            {
                var located = DigitLocator.Normalize(ImageDecoder.Decode(sample.Path!, 1), 28, 28);
                Assert.True(located.Found, $"{sample}: no digit found");
                Assert.True(located.DarkInk == dark, $"{sample}: polarity {(located.DarkInk ? "dark" : "light")} ink");
                // Light strokes on black: the border ring of the output is background.
                Assert.False(Threshold.HasLightBackground(located.Image.Data, 28, 28), $"{sample}: output background is light");
            }
    }

    /// <summary>A "digit" (a ring with a tail and a bar) filling <paramref name="digit"/> on a canvas, with light and grain.</summary>
    static ByteImage Paint(int height, int width, PixelBox digit, bool dark, double light, double grain, int seed)
    {
        var rng = new Rng((ulong)seed);
        var image = new ByteImage(1, height, width);
        double stroke = Math.Max(1.2, digit.Height / 12.0);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                // Digit coordinates in [0, 1] x [0, 1].
                double u = (x + 0.5 - digit.X) / digit.Width, v = (y + 0.5 - digit.Y) / digit.Height;
                double ring = Math.Abs(Math.Sqrt((u - 0.4) * (u - 0.4) + (v - 0.58) * (v - 0.58)) - 0.4) * digit.Height;
                double tail = u >= 0.75 && u <= 1 ? Math.Abs(v - 0.08 - 0.5 * (u - 0.75)) * digit.Height : double.MaxValue;
                double bar = v >= 0 && v <= 0.6 ? Math.Abs(u - 0.96) * digit.Width : double.MaxValue;
                double distance = Math.Min(ring, Math.Min(tail, bar));
                bool inside = u >= -0.02 && u <= 1.02 && v >= -0.02 && v <= 1.02;
                double ink = inside ? Math.Clamp(stroke / 2 + 0.5 - distance, 0, 1) : 0;
                double illumination = 1 - light * x / width;
                double paper = dark ? 235 * illumination : 25 + 40 * light * x / width;
                double pen = dark ? 40 * illumination : 220;
                image[0, y, x] = (byte)Math.Clamp(Math.Round(paper + (pen - paper) * ink + grain * rng.NextGaussian()), 0, 255);
            }
        return image;
    }

    /// <summary>Pearson correlation of two 28x28 pictures after a 3x3 box mean (a pixel's shift is not a difference).</summary>
    static double Correlation(byte[] a, byte[] b)
    {
        var x = new byte[a.Length]; var y = new byte[b.Length];
        Intensity.BoxMean(a, x, 28, 28, 3);
        Intensity.BoxMean(b, y, 28, 28, 3);
        double mx = x.Average(v => (double)v), my = y.Average(v => (double)v), sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.Length; i++) { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) * (x[i] - mx); syy += (y[i] - my) * (y[i] - my); }
        return sxy / Math.Sqrt(sxx * syy + 1e-9);
    }
}

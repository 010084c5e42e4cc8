using System.Globalization;
using Ongko.Data;
using Ongko.Tensors;
using Ongko.Tests.Data;
using Ongko.Vision;

namespace Ongko.Tests.Vision;

/// <summary>The affine warp against cv2.warpAffine and torchvision's matrix (fixtures/make_vision_fixtures.py), and its random draws.</summary>
public class AffineTests
{
    static double D(Dictionary<string, string> values, string key) => double.Parse(values[key], CultureInfo.InvariantCulture);

    static void AssertMatrix(double[] expected, AffineMatrix actual, string name)
    {
        double[] got = [actual.M00, actual.M01, actual.M02, actual.M10, actual.M11, actual.M12];
        for (int i = 0; i < 6; i++)
            Assert.True(Math.Abs(expected[i] - got[i]) < 1e-9, $"{name}: matrix entry {i} is {got[i]}, expected {expected[i]}");
    }

    /// <summary>Warps the u8 input as floats and compares with OpenCV's u8 result: within one grey level everywhere.</summary>
    static void AssertWarpMatches(string name, string input, string output, Action<float[], float[], int, int> warp)
    {
        var (shape, source) = DataTestSupport.ReadU8(input);
        var (_, expected) = DataTestSupport.ReadU8(output);
        int h = shape[0], w = shape[1];
        float[] src = source.Select(b => (float)b).ToArray(), dst = new float[h * w];
        warp(src, dst, h, w);
        int worst = 0, at = -1, off = 0;
        for (int i = 0; i < dst.Length; i++)
        {
            int d = Math.Abs((int)MathF.Round(dst[i]) - expected[i]);
            if (d > 0) off++;
            if (d > worst) { worst = d; at = i; }
        }
        Assert.True(worst <= 1, $"{name} ({h}x{w}): pixel ({at / w}, {at % w}) is {(at < 0 ? 0 : dst[at])}, OpenCV {(at < 0 ? 0 : expected[at])}");
        // OpenCV samples at 1/32-pixel positions; on these smooth inputs that moves few pixels by a level.
        Assert.True(off <= dst.Length / 3, $"{name}: {off} of {dst.Length} pixels differ by one level");
        Assert.True(expected.Any(v => v > 100), $"{name}: the fixture lost the digit");
    }

    [Fact]
    public void TorchVisionParametersGiveTheSameMatrixAndTheWarpMatchesOpenCv()
    {
        int count = 0;
        foreach (var (name, v) in DataTestSupport.Cases("affine"))
        {
            var (shape, _) = DataTestSupport.ReadU8(v["input"]);
            var matrix = AffineMatrix.TorchVision(shape[0], shape[1], D(v, "angle"), D(v, "tx"), D(v, "ty"), D(v, "scale"), D(v, "shear_x"), D(v, "shear_y"));
            AssertMatrix(v["matrix"].Split(',').Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray(), matrix, name);
            AssertWarpMatches(name, v["input"], name + "_out", (s, d, h, w) => Geometry.WarpAffine(s, d, h, w, matrix));
            count++;
        }
        Assert.Equal(32, count);
    }

    [Fact]
    public void RotateMatchesOpenCvGetRotationMatrix2D()
    {
        int count = 0;
        foreach (var (name, v) in DataTestSupport.Cases("rotate"))
        {
            var (shape, _) = DataTestSupport.ReadU8(v["input"]);
            double degrees = D(v, "degrees");
            AssertMatrix(v["matrix"].Split(',').Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray(), AffineMatrix.Rotation(shape[0], shape[1], degrees), name);
            AssertWarpMatches(name, v["input"], name + "_out", (s, d, h, w) => Geometry.Rotate(s, d, h, w, degrees));
            count++;
        }
        Assert.Equal(12, count);
    }

    [Fact]
    public void IdentityParametersLeaveTheImageUnchangedAndWholePixelShiftsAreExact()
    {
        int h = 13, w = 17;
        var rng = new Rng(3);
        var source = Enumerable.Range(0, h * w).Select(_ => (float)rng.NextDouble()).ToArray();
        var output = new float[h * w];
        Geometry.WarpAffine(source, output, h, w, AffineMatrix.TorchVision(h, w, 0, 0, 0, 1, 0, 0));
        Assert.Equal(source, output);
        // The default options draw the identity whatever the generator says.
        Geometry.WarpAffine(source, output, h, w, new AffineOptions().Sample(new Rng(9), h, w));
        Assert.Equal(source, output);

        // +2 px right, -1 px up: torchvision's translate moves the content by exactly that; zero comes in at the edges.
        Geometry.WarpAffine(source, output, h, w, AffineMatrix.TorchVision(h, w, 0, 2, -1, 1, 0, 0));
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int sy = y + 1, sx = x - 2;
                float expected = sy < h && sx >= 0 ? source[sy * w + sx] : 0;
                Assert.Equal(expected, output[y * w + x]);
            }
    }

    [Fact]
    public void PositiveTorchVisionAngleTurnsClockwiseAndPositiveShearLeansTheTopLeft()
    {
        int h = 9, w = 9;
        var dot = new float[h * w];
        dot[0 * w + 4] = 1; // top centre
        var output = new float[h * w];
        // Clockwise on screen: the top goes to the right edge's middle (the opposite of Rotate's OpenCV sign).
        Geometry.WarpAffine(dot, output, h, w, AffineMatrix.TorchVision(h, w, 90, 0, 0, 1, 0, 0));
        Assert.True(Math.Abs(output[4 * w + 8] - 1) < 1e-5, $"middle right is {output[4 * w + 8]}");
        Geometry.Rotate(dot, output, h, w, 90);
        Assert.True(Math.Abs(output[4 * w + 0] - 1) < 1e-5, $"middle left is {output[4 * w + 0]}");
        // Shear x by 45°: x' = x - tan(45°)·(y - cy), so the top row (y - cy = -4) moves 4 px right.
        var row = new float[h * w];
        row[0 * w + 2] = 1;
        Geometry.WarpAffine(row, output, h, w, AffineMatrix.TorchVision(h, w, 0, 0, 0, 1, 45, 0));
        Assert.True(Math.Abs(output[0 * w + 6] - 1) < 1e-5, $"top row, x=6 is {output[0 * w + 6]}");
        // Scale 2 about the centre: a pixel 2 right of the centre goes to 4 right of it.
        var point = new float[h * w];
        point[4 * w + 6] = 1;
        Geometry.WarpAffine(point, output, h, w, AffineMatrix.TorchVision(h, w, 0, 0, 0, 2, 0, 0));
        Assert.True(Math.Abs(output[4 * w + 8] - 1) < 1e-5 && Math.Abs(output[4 * w + 4]) < 1e-6, $"x=8 is {output[4 * w + 8]}");
    }

    [Fact]
    public void InverseAndCompositionAreConsistent()
    {
        var m = AffineMatrix.TorchVision(28, 28, 17, 3, -2, 1.15, 8, -4);
        var round = m.Then(m.Inverse());
        AssertMatrix([1, 0, 0, 0, 1, 0], round, "m then inverse");
        var r = AffineMatrix.Rotation(28, 28, 30);
        var both = r.Then(m);
        // A point through r then m equals the composed matrix.
        double x = 5, y = 21;
        double rx = r.M00 * x + r.M01 * y + r.M02, ry = r.M10 * x + r.M11 * y + r.M12;
        double mx = m.M00 * rx + m.M01 * ry + m.M02, my = m.M10 * rx + m.M11 * ry + m.M12;
        Assert.Equal(mx, both.M00 * x + both.M01 * y + both.M02, 9);
        Assert.Equal(my, both.M10 * x + both.M11 * y + both.M12, 9);
        Assert.Throws<ArgumentException>(() => new AffineMatrix(1, 2, 0, 2, 4, 0).Inverse());
    }

    [Fact]
    public void DrawsStayInTheirRangesAreSeededAndTranslationsAreWholePixels()
    {
        var options = AffineOptions.Symmetric(degrees: 10, translate: 0.1, scaleMin: 0.9, scaleMax: 1.1, shear: 10);
        int h = 28, w = 28;
        double cx = 13.5, cy = 13.5;
        var shifts = new HashSet<double>();
        double smallest = double.MaxValue, largest = 0;
        for (ulong seed = 1; seed <= 300; seed++)
        {
            var m = options.Sample(new Rng(seed), h, w);
            Assert.Equal(m, options.Sample(new Rng(seed), h, w));
            // The centre only moves by the translation.
            double tx = m.M00 * cx + m.M01 * cy + m.M02 - cx, ty = m.M10 * cx + m.M11 * cy + m.M12 - cy;
            Assert.True(Math.Abs(tx - Math.Round(tx)) < 1e-9 && Math.Abs(ty - Math.Round(ty)) < 1e-9, $"seed {seed}: shift ({tx}, {ty})");
            Assert.True(Math.Abs(tx) <= 3 + 1e-9 && Math.Abs(ty) <= 3 + 1e-9, $"seed {seed}: shift ({tx}, {ty}) beyond round(0.1 x 28)");
            shifts.Add(Math.Round(tx));
            // Rotation and shear keep area; the determinant is scale².
            double scale = Math.Sqrt(m.M00 * m.M11 - m.M01 * m.M10);
            Assert.InRange(scale, 0.9 - 1e-9, 1.1 + 1e-9);
            smallest = Math.Min(smallest, scale); largest = Math.Max(largest, scale);
        }
        Assert.Equal(7, shifts.Count); // -3 .. 3
        Assert.True(smallest < 0.92 && largest > 1.08, $"scales drawn in [{smallest}, {largest}]");
        Assert.NotEqual(options.Sample(new Rng(1), h, w), options.Sample(new Rng(2), h, w));
    }

    [Theory]
    [InlineData(-1.0, 0.1, 0.9, 1.1, 0.0, "degrees must be >= 0")]
    [InlineData(10.0, 0.1, 0.9, 1.1, -5.0, "shear must be >= 0")]
    [InlineData(10.0, 1.5, 0.9, 1.1, 0.0, "translate is a fraction of the image size in [0, 1]")]
    [InlineData(10.0, -0.1, 0.9, 1.1, 0.0, "translate is a fraction of the image size in [0, 1]")]
    [InlineData(10.0, 0.1, 1.1, 0.9, 0.0, "has min > max")]
    [InlineData(10.0, 0.1, 0.0, 1.1, 0.0, "scale must be > 0")]
    [InlineData(10.0, 0.1, -1.0, 1.1, 0.0, "scale must be > 0")]
    [InlineData(10.0, 0.1, 0.9, 1.1, 90.0, "strictly between -90 and 90")]
    public void InvalidOptionsAreRejectedWithTheReason(double degrees, double translate, double scaleMin, double scaleMax, double shear, string expected)
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() =>
        {
            var options = new AugmentOptions { Affine = AffineOptions.Symmetric(degrees, translate, scaleMin, scaleMax, shear) };
            new ImagePipeline(options);
        });
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void AffineProbabilityOutsideUnitRangeIsRejected()
    {
        var options = new AugmentOptions { Affine = AffineOptions.Symmetric(10), AffineProbability = 1.5 };
        var ex = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Contains("affine_prob", ex.Message);
    }
}

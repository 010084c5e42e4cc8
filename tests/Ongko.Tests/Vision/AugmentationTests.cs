using Ongko.Tensors;
using Ongko.Tests.Data;
using Ongko.Vision;

namespace Ongko.Tests.Vision;

public class AugmentationTests
{
    [Fact]
    public void RotationByZeroIsIdentityAndNinetyDegreesTurnsTheImage()
    {
        int h = 5, w = 5;
        var source = new float[h * w];
        source[0 * w + 4] = 1; // top right
        var same = new float[h * w];
        Geometry.Rotate(source, same, h, w, 0);
        Assert.Equal(source, same);
        var turned = new float[h * w];
        Geometry.Rotate(source, turned, h, w, 90);
        // Counter-clockwise by 90 degrees (OpenCV's sign): the top-right corner goes to the top-left.
        Assert.True(Math.Abs(turned[0] - 1) < 1e-5, $"top-left is {turned[0]}");
        Assert.True(Math.Abs(turned.Sum() - 1) < 1e-4);
    }

    [Fact]
    public void GaussianBlurKeepsMeanAndSpreadsAPoint()
    {
        int h = 9, w = 9;
        var plane = new float[h * w];
        plane[4 * w + 4] = 1;
        Blur.Gaussian(plane, h, w, 1.0);
        Assert.True(Math.Abs(plane.Sum() - 1) < 1e-4, $"sum {plane.Sum()}");
        Assert.True(plane[4 * w + 4] < 0.2f && plane[4 * w + 5] > 0.05f && Math.Abs(plane[4 * w + 5] - plane[3 * w + 4]) < 1e-6);
        var flat = Enumerable.Repeat(0.5f, h * w).ToArray();
        Blur.Gaussian(flat, h, w, 1.2);
        Assert.All(flat, v => Assert.True(Math.Abs(v - 0.5f) < 1e-5));
    }

    [Fact]
    public void MixupTargetsSumToOneAndBlendImagesWithTheSameWeight()
    {
        var rng = new Rng(3);
        int count = 6, size = 4, classes = 10;
        var images = new float[count * size];
        for (int i = 0; i < count; i++) for (int j = 0; j < size; j++) images[i * size + j] = i;
        int[] labels = [0, 1, 2, 3, 4, 5];
        var targets = new float[count * classes];
        float lambda = Mixup.Apply(images, count, size, labels, targets, classes, rng);
        Assert.InRange(lambda, 0.05f, 0.95f);
        for (int i = 0; i < count; i++)
        {
            var row = targets.AsSpan(i * classes, classes);
            float sum = 0; foreach (float t in row) sum += t;
            Assert.True(Math.Abs(sum - 1) < 1e-6, $"row {i} sums to {sum}");
            Assert.True(row[i] >= lambda - 1e-6, $"row {i} keeps weight {row[i]} on its own label");
            int partner = row.ToArray().Select((v, k) => (v, k)).Where(p => p.k != i && p.v > 0).Select(p => p.k).DefaultIfEmpty(i).First();
            Assert.True(Math.Abs(images[i * size] - (lambda * i + (1 - lambda) * partner)) < 1e-4, $"image {i} is {images[i * size]}");
        }
    }

    [Fact]
    public void BetaEightEightHasTheRightMoments()
    {
        var rng = new Rng(11);
        var draws = Enumerable.Range(0, 20000).Select(_ => Mixup.SampleBeta(rng, 8, 8)).ToArray();
        double mean = draws.Average(), variance = draws.Select(x => (x - mean) * (x - mean)).Average();
        Assert.InRange(mean, 0.49, 0.51);
        Assert.InRange(variance, 0.0147 * 0.9, 0.0147 * 1.1); // ab / ((a+b)^2 (a+b+1)) = 64 / (256 * 17)
    }

    [Fact]
    public void ContourCutoutBlanksSquaresOnTheOutlineOnly()
    {
        var image = DataTestSupport.SyntheticDigit(100, 100);
        var region = new byte[image.PlaneSize];
        Assert.NotNull(Ongko.Data.ImagePipeline.FindDigit(image, region));
        int[] outline = Components.Outline(region, 100, 100);
        Assert.NotEmpty(outline);
        var cut = image.Clone();
        int squares = Cutout.Apply(cut, outline, 6, new Rng(5));
        Assert.InRange(squares, 1, 6);
        int changed = 0;
        for (int i = 0; i < image.PlaneSize; i++)
            if (cut.Data[i] != image.Data[i]) { changed++; Assert.Equal(0, cut.Data[i]); }
        Assert.InRange(changed, 1, squares * 16); // 4% of 100 px: 4x4 squares
    }
}

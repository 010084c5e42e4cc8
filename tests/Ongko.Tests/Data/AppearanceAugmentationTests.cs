using Ongko.Data;
using Ongko.Tensors;
using Ongko.Vision;

namespace Ongko.Tests.Data;

/// <summary>The stroke, photometric, noise and blur augmentations (issue 10) on the rendered training image.</summary>
public class AppearanceAugmentationTests
{
    static float[] Render(AugmentOptions options, ulong seed)
    {
        var digit = DataTestSupport.SyntheticDigit(28, 28);
        var pipeline = new ImagePipeline(options);
        var output = new float[pipeline.SampleSize];
        pipeline.Process(digit, new Rng(seed), output);
        return output;
    }

    static AugmentOptions Plain() => new() { Height = 28, Width = 28, Channels = 1 };

    [Fact]
    public void StrokesGetThickerOrThinnerAndStayInRange()
    {
        var plain = Render(Plain(), 1);
        var options = Plain(); options.StrokeProbability = 1;
        int thicker = 0, thinner = 0;
        for (ulong seed = 0; seed < 20; seed++)
        {
            var changed = Render(options, seed);
            Assert.All(changed, v => Assert.InRange(v, 0f, 1f));
            float difference = changed.Sum() - plain.Sum();
            if (difference > 5) thicker++;
            if (difference < -5) thinner++;
        }
        Assert.True(thicker >= 4 && thinner >= 4, $"{thicker} thicker and {thinner} thinner out of 20");
    }

    [Fact]
    public void PhotometricNoiseAndBlurChangeTheImageWithinRangeAndRepeatForASeed()
    {
        var plain = Render(Plain(), 3);
        foreach (var set in new Action<AugmentOptions>[] { o => o.PhotometricProbability = 1, o => o.Noise = 0.1, o => o.BlurProbability = 1 })
        {
            var options = Plain();
            set(options);
            var first = Render(options, 3);
            Assert.Equal(first, Render(options, 3));
            Assert.All(first, v => Assert.InRange(v, 0f, 1f));
            double change = first.Zip(plain, (a, b) => Math.Abs(a - b)).Sum();
            Assert.True(change > 5, $"the augmentation changed the image by only {change}");
        }
        // The background is lifted by the photometric jitter at times: its darkest pixel is no longer 0.
        var lifted = Plain(); lifted.PhotometricProbability = 1;
        Assert.Contains(Enumerable.Range(0, 10), seed => Render(lifted, (ulong)seed).Min() > 0.02f);
    }

    [Fact]
    public void UnconfiguredAugmentationsDrawNothingFromTheGenerator()
    {
        // With none of them configured the random stream (and so the affine warp) is what it was before they existed.
        var options = Plain(); options.Affine = AffineOptions.Symmetric(degrees: 10, translate: 0.1);
        var rng = new Rng(5);
        rng.NextDouble(); // the affine_prob draw
        var expected = options.Affine.Sample(rng, 28, 28);
        var digit = DataTestSupport.SyntheticDigit(28, 28);
        var prepared = new ImagePipeline(options).Prepare(digit, forCutout: false);
        var warped = new float[28 * 28];
        var plane = prepared.Image.Data.Select(b => b * (1f / 255f)).ToArray();
        Geometry.WarpAffine(plane, warped, 28, 28, expected);
        Assert.Equal(warped, Render(options, 5));
    }

    [Fact]
    public void OutOfRangeSettingsAreRefused()
    {
        Assert.Throws<ArgumentException>(() => new ImagePipeline(new AugmentOptions { StrokeProbability = 1.5 }));
        Assert.Throws<ArgumentException>(() => new ImagePipeline(new AugmentOptions { Noise = -0.1 }));
        Assert.Throws<ArgumentException>(() => new ImagePipeline(new AugmentOptions { BlurProbability = double.NaN }));
    }
}

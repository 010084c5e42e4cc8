using System.Text.Json;
using Ongko.Data;
using Ongko.Serialization;
using Ongko.Tensors;
using Ongko.Vision;

namespace Ongko.Tests.Data;

/// <summary>The <c>affine:</c> augmentation in the pipeline, the loader and the config file.</summary>
public class AffineAugmentTests
{
    static float[] Render(ImagePipeline pipeline, ByteImage image, Rng? rng)
    {
        var output = new float[pipeline.SampleSize];
        pipeline.Process(image, rng, output);
        return output;
    }

    static readonly AffineOptions Typical = AffineOptions.Symmetric(degrees: 10, translate: 0.1, scaleMin: 0.9, scaleMax: 1.1, shear: 10);

    [Fact]
    public void AffineIsSeededTrainingOnlyAndMovesTheDigit()
    {
        var image = DataTestSupport.SyntheticDigit(60, 60);
        var plain = new ImagePipeline(new AugmentOptions { Channels = 3, Height = 28, Width = 28, UseBoundingBox = true });
        var warped = new ImagePipeline(new AugmentOptions { Channels = 3, Height = 28, Width = 28, UseBoundingBox = true, Affine = Typical });
        var reference = Render(plain, image, null);
        // Evaluation (no generator) is untouched.
        Assert.Equal(reference, Render(warped, image, null));
        var first = Render(warped, image, new Rng(11));
        Assert.Equal(first, Render(warped, image, new Rng(11)));
        for (ulong seed = 12; seed < 20; seed++)
        {
            var other = Render(warped, image, new Rng(seed));
            Assert.False(other.SequenceEqual(first), $"seed {seed} gave the same warp as seed 11");
            Assert.False(other.SequenceEqual(reference), $"seed {seed} left the image unwarped");
            // The grey image's three channels get the same warp.
            Assert.True(other.AsSpan(0, 784).SequenceEqual(other.AsSpan(784 * 2, 784)));
            // Bilinear, zero fill: values stay in [0, 1] and the ink roughly keeps its amount (scale² within 0.81..1.21, a little may leave the frame).
            Assert.All(other, v => Assert.InRange(v, 0f, 1f));
            double ratio = other.Take(784).Sum() / reference.Take(784).Sum();
            Assert.InRange(ratio, 0.6, 1.35);
        }
    }

    [Fact]
    public void ProbabilityZeroAndIdentityRangesChangeNothing()
    {
        var image = DataTestSupport.SyntheticDigit(40, 40);
        var baseOptions = new AugmentOptions { Channels = 1, Height = 28, Width = 28, UseBoundingBox = true };
        var reference = Render(new ImagePipeline(baseOptions), image, new Rng(5));
        var never = baseOptions.Clone(); never.Affine = Typical; never.AffineProbability = 0;
        Assert.Equal(reference, Render(new ImagePipeline(never), image, new Rng(5)));
        var identity = baseOptions.Clone(); identity.Affine = new AffineOptions();
        Assert.Equal(reference, Render(new ImagePipeline(identity), image, new Rng(5)));
        // Half the time: some seeds warp, some don't.
        var half = baseOptions.Clone(); half.Affine = Typical; half.AffineProbability = 0.5;
        var pipeline = new ImagePipeline(half);
        int unchanged = Enumerable.Range(1, 40).Count(seed => Render(pipeline, image, new Rng((ulong)seed)).SequenceEqual(reference));
        Assert.InRange(unchanged, 8, 32);
    }

    [Fact]
    public void RotationAndAffineTogetherStayReproducibleInTheLoader()
    {
        var samples = Enumerable.Range(0, 24).Select(i => new Sample(DataTestSupport.SyntheticDigit(28, 28, darkOnLight: i % 2 == 0), i % 10, "s", $"d{i}")).ToList();
        var options = new AugmentOptions { Channels = 1, Height = 24, Width = 24, UseBoundingBox = true, Augment = true, Affine = Typical, AffineProbability = 0.8, Cache = true };
        float[] Run(int prefetch, ulong seed)
        {
            var loader = new DataLoader(samples, options.Clone(), batchSize: 8, shuffle: true, train: true, seed: seed, prefetch: prefetch);
            return loader.Epoch(1).SelectMany(batch => batch.Images.Span.ToArray()).ToArray();
        }
        var reference = Run(2, 5);
        Assert.Equal(reference, Run(0, 5));
        Assert.NotEqual(reference, Run(2, 6));
    }

    const string Config = """
        epochs: 1
        model:
          - [Conv2D, [1, 4, 3, 1, 1]]
          - [ReLU, []]
          - [Flatten, []]
          - [Linear, [10]]
        augment:
          img_shape: [28, 28]
          affine: {degrees: 10, translate: 0.1, scale: [0.9, 1.1], shear: 10}
          affine_prob: 0.75
        """;

    [Fact]
    public void ConfigReadsTorchVisionFormsAndRoundTripsThroughToYamlAndCheckpointJson()
    {
        var config = ConfigFile.Parse(Config, "c.yaml");
        Assert.Equal(Typical, config.Augment.Affine);
        Assert.Equal(0.75, config.Augment.AffineProbability);

        var again = ConfigFile.Parse(ConfigFile.ToYaml(config), "resolved.yaml");
        Assert.Equal(config.Augment.Affine, again.Augment.Affine);
        Assert.Equal(0.75, again.Augment.AffineProbability);
        var json = JsonSerializer.Deserialize<AugmentOptions>(JsonSerializer.Serialize(config.Augment))!;
        Assert.Equal(config.Augment.Affine, json.Affine);

        // Long forms: ranges, per-axis translate, x and y shear; round-trips too.
        var full = ConfigFile.Parse(Config.Replace("{degrees: 10, translate: 0.1, scale: [0.9, 1.1], shear: 10}",
            "{degrees: [-5, 15], translate: [0.05, 0.2], scale: 1.2, shear: [-3, 4, -6, 7]}"), "c.yaml");
        var expected = new AffineOptions { DegreesMin = -5, DegreesMax = 15, TranslateX = 0.05, TranslateY = 0.2, ScaleMin = 1.2, ScaleMax = 1.2, ShearXMin = -3, ShearXMax = 4, ShearYMin = -6, ShearYMax = 7 };
        Assert.Equal(expected, full.Augment.Affine);
        Assert.Equal(expected, ConfigFile.Parse(ConfigFile.ToYaml(full), "resolved.yaml").Augment.Affine);

        // Absent, or off: no affine, and the resolved config says nothing about it.
        var off = ConfigFile.Parse(Config.Replace("{degrees: 10, translate: 0.1, scale: [0.9, 1.1], shear: 10}", "off"), "c.yaml");
        Assert.Null(off.Augment.Affine);
        Assert.DoesNotContain("affine", ConfigFile.ToYaml(off));
        Assert.Null(ConfigFile.Parse(ConfigFile.ToYaml(off), "resolved.yaml").Augment.Affine);
    }

    [Theory]
    [InlineData("degrees: 10", "degrees: -10", "line 9: 'augment.affine.degrees' must be >= 0")]
    [InlineData("degrees: 10", "degrees: [10, -10]", "line 9: 'augment.affine.degrees' range [10, -10] has min > max")]
    [InlineData("translate: 0.1", "translate: 1.5", "line 9: 'augment.affine.translate' is a fraction of the image size and must be between 0 and 1, got 1.5")]
    [InlineData("translate: 0.1", "translate: [0.1, -0.2]", "must be between 0 and 1")]
    [InlineData("scale: [0.9, 1.1]", "scale: [1.1, 0.9]", "line 9: 'augment.affine.scale' range [1.1, 0.9] has min > max")]
    [InlineData("scale: [0.9, 1.1]", "scale: [0, 1.1]", "'augment.affine.scale' must be > 0")]
    [InlineData("scale: [0.9, 1.1]", "scale: [0.9, 1.0, 1.1]", "'augment.affine.scale' must be a number or [min, max], got 3 values")]
    [InlineData("shear: 10", "shear: 95", "strictly between -90 and 90")]
    [InlineData("shear: 10", "shear: lots", "'augment.affine.shear' must be a number, got 'lots'")]
    [InlineData("shear: 10", "sheer: 10", "unknown key 'augment.affine.sheer'; did you mean 'augment.affine.shear'?")]
    [InlineData("affine_prob: 0.75", "affine_prob: 2", "line 10: 'augment.affine_prob' is a probability")]
    [InlineData("affine: {degrees: 10, translate: 0.1, scale: [0.9, 1.1], shear: 10}", "affine: [10, 0.1]", "line 9: augment.affine must be a mapping")]
    public void BadAffineConfigsNameFileLineAndProblem(string original, string replacement, string expected)
    {
        var text = Config.Replace(original, replacement);
        Assert.NotEqual(Config, text);
        var ex = Assert.Throws<ConfigException>(() => ConfigFile.Parse(text, "bad.yaml"));
        Assert.StartsWith("bad.yaml", ex.Message);
        Assert.Contains(expected, ex.Message);
    }
}

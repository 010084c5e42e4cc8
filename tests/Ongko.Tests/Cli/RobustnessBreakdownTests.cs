using Ongko.Cli.Commands;
using Ongko.Data;
using Ongko.Vision;

namespace Ongko.Tests.Cli;

/// <summary>evaluate --robustness: scores split by picture size, ink polarity and whether a digit was found.</summary>
public class RobustnessBreakdownTests
{
    /// <summary>A grey picture of <paramref name="side"/> pixels with a thick ring (a "0") in the middle.</summary>
    static ByteImage Ring(int side, bool darkInk)
    {
        var image = new ByteImage(1, side, side);
        double centre = (side - 1) / 2.0, outer = side * 0.3, inner = side * 0.18;
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++)
            {
                double r = Math.Sqrt((y - centre) * (y - centre) + (x - centre) * (x - centre));
                bool ink = r <= outer && r >= inner;
                image[0, y, x] = (byte)(ink == darkInk ? 20 : 235);
            }
        return image;
    }

    [Fact]
    public void GroupsBySizePolarityAndFoundWithTheirOwnScores()
    {
        var samples = new List<Sample>
        {
            new(Ring(28, darkInk: true), 0, "a", "small-dark-1"),
            new(Ring(28, darkInk: true), 0, "a", "small-dark-2"),
            new(Ring(100, darkInk: false), 0, "a", "large-light-1"),
            new(Ring(100, darkInk: false), 0, "a", "large-light-2"),
            new(new ByteImage(1, 600, 40), 0, "a", "blank-tall"),   // nothing to find; longest side 600
            new(Ring(28, darkInk: true), 0, "a", "not-classified"),
        };
        // Right, wrong, right, right, wrong, and one the classifier could not read (left out everywhere).
        var predicted = new int?[] { 0, 1, 0, 0, 2, null };
        var groups = RobustnessBreakdown.Compute(samples, predicted, 10);
        (long Total, double Accuracy) Row(string name)
        {
            var group = Assert.Single(groups, g => g.Name == name);
            return (group.Matrix.Total, group.Matrix.Accuracy);
        }
        Assert.Equal((2L, 0.5), Row("1-32 px"));
        Assert.Equal((2L, 1.0), Row("65-128 px"));
        Assert.Equal((1L, 0.0), Row("> 512 px"));
        Assert.DoesNotContain(groups, g => g.Name == "33-64 px");  // empty buckets are left out
        Assert.Equal((2L, 0.5), Row("dark ink on light"));
        Assert.Equal(4L, Row("found").Total);
        Assert.Equal((1L, 0.0), Row("not found (whole picture)"));
        Assert.Equal(5L, groups.Where(g => g.Aspect == "size (longest side)").Sum(g => g.Matrix.Total));
        Assert.Equal(5L, groups.Where(g => g.Aspect == "polarity").Sum(g => g.Matrix.Total));
        // Fixed order: sizes ascending, then polarity, then found.
        Assert.Equal(["size (longest side)", "polarity", "digit found"], groups.Select(g => g.Aspect).Distinct().ToArray());
    }

    [Theory]
    [InlineData(1, "1-32 px")]
    [InlineData(32, "1-32 px")]
    [InlineData(33, "33-64 px")]
    [InlineData(512, "257-512 px")]
    [InlineData(513, "> 512 px")]
    public void SizeBucketsAreInclusiveUpperBounds(int side, string bucket) => Assert.Equal(bucket, RobustnessBreakdown.SizeBucket(side));
}

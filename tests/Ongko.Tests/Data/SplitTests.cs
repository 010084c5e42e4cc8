using Ongko.Data;

namespace Ongko.Tests.Data;

public class SplitTests
{
    static List<Sample> MakeSamples()
    {
        var samples = new List<Sample>();
        string[] sources = ["BHDDB", "B101DB", "OngkoDB"];
        int n = 0;
        foreach (string source in sources)
            for (int digit = 0; digit < 10; digit++)
                for (int k = 0; k < 10 + 7 * digit + sources.ToList().IndexOf(source); k++)
                    samples.Add(new Sample($"/data/{source}/{n++:D5}.png", digit, source));
        return samples;
    }

    [Fact]
    public void EachStratumSplitsEightyTwentyAndNothingIsLostOrDuplicated()
    {
        var samples = MakeSamples();
        var (train, valid) = DataSplit.Stratified(samples, 0.2, seed: 42);
        Assert.Equal(samples.Count, train.Count + valid.Count);
        Assert.Empty(train.Intersect(valid));
        foreach (var stratum in samples.GroupBy(s => (s.Source, s.Label)))
        {
            int inValid = valid.Count(s => s.Source == stratum.Key.Source && s.Label == stratum.Key.Label);
            int expected = (int)Math.Round(stratum.Count() * 0.2, MidpointRounding.AwayFromZero);
            Assert.True(inValid == expected, $"{stratum.Key}: {inValid} of {stratum.Count()} in validation, expected {expected}");
        }
    }

    [Fact]
    public void SameSeedGivesTheSameSplitWhateverTheInputOrderAndOtherSeedsDiffer()
    {
        var samples = MakeSamples();
        var (_, a) = DataSplit.Stratified(samples, 0.2, seed: 7);
        var reversed = samples.AsEnumerable().Reverse().ToList();
        var (_, b) = DataSplit.Stratified(reversed, 0.2, seed: 7);
        Assert.Equal(a.Select(s => s.Path).Order(), b.Select(s => s.Path).Order());
        var (_, c) = DataSplit.Stratified(samples, 0.2, seed: 8);
        Assert.NotEqual(a.Select(s => s.Path).Order(), c.Select(s => s.Path).Order());
        // Pinned: the split must not change between versions or machines for a given seed.
        Assert.Equal(PinnedFirstValidation, a.Select(s => s.Path).Order(StringComparer.Ordinal).Take(3));
    }

    static readonly string[] PinnedFirstValidation = ["/data/B101DB/00418.png", "/data/B101DB/00423.png", "/data/B101DB/00427.png"];

    [Fact]
    public void DebugSubsetTakesTheFirstFewOfEachStratum()
    {
        var samples = MakeSamples();
        var subset = DataSplit.Subset(samples, 3);
        Assert.Equal(3 * 10 * 3, subset.Count);
        Assert.Equal(samples.Where(s => s.Source == "BHDDB" && s.Label == 4).Take(3), subset.Where(s => s.Source == "BHDDB" && s.Label == 4));
    }
}

using Ongko.Data;
using Ongko.Training;
using Ongko.Vision;

namespace Ongko.Cli.Commands;

/// <summary>
/// Scores split by what the picture looks like rather than where it came from: its size (longest side), the ink's
/// polarity as <see cref="DigitLocator"/> decides it, and whether the locator found a digit at all. Every picture is
/// decoded and located once more here (the classifier's own pass does not report these facts).
/// </summary>
public static class RobustnessBreakdown
{
    /// <summary>One row: an aspect ("size", "polarity", "digit found"), a group name and its confusion matrix.</summary>
    public sealed record Group(string Aspect, string Name, ConfusionMatrix Matrix);

    /// <summary>Upper bounds (inclusive) of the size buckets, by the picture's longest side in pixels.</summary>
    public static readonly int[] SizeBounds = [32, 64, 128, 256, 512];

    /// <summary>The bucket name of a picture whose longest side is <paramref name="longestSide"/> pixels.</summary>
    public static string SizeBucket(int longestSide)
    {
        int lower = 1;
        foreach (int bound in SizeBounds)
        {
            if (longestSide <= bound) return $"{lower}-{bound} px";
            lower = bound + 1;
        }
        return $"> {SizeBounds[^1]} px";
    }

    /// <summary>
    /// Groups <paramref name="samples"/> (with the model's <paramref name="predicted"/> class; null = not classified,
    /// left out) by size, polarity and found/not found. Groups are in a fixed order: sizes ascending, then polarity,
    /// then found; empty groups are left out.
    /// </summary>
    public static List<Group> Compute(IReadOnlyList<Sample> samples, IReadOnlyList<int?> predicted, int classes)
    {
        if (samples.Count != predicted.Count) throw new ArgumentException("one prediction per sample");
        var groups = new SortedDictionary<(int Order, string Name), (string Aspect, ConfusionMatrix Matrix)>();
        void Add(int order, string aspect, string name, int label, int answer)
        {
            if (!groups.TryGetValue((order, name), out var entry))
                groups[(order, name)] = entry = (aspect, new ConfusionMatrix(classes));
            entry.Matrix.Add(label, answer);
        }
        var facts = new (int LongestSide, bool DarkInk, bool Found)[samples.Count];
        Parallel.For(0, samples.Count, i =>
        {
            if (predicted[i] is null) return;
            var image = samples[i].Image ?? ImageDecoder.Decode(samples[i].Path!, 3);
            var located = DigitLocator.Normalize(image, 28, 28);
            facts[i] = (Math.Max(image.Height, image.Width), located.DarkInk, located.Found);
        });
        for (int i = 0; i < samples.Count; i++)
        {
            if (predicted[i] is not { } answer) continue;
            int label = samples[i].Label;
            var (side, dark, found) = facts[i];
            int sizeOrder = Array.FindIndex(SizeBounds, b => side <= b);
            Add(sizeOrder < 0 ? SizeBounds.Length : sizeOrder, "size (longest side)", SizeBucket(side), label, answer);
            Add(100 + (dark ? 0 : 1), "polarity", dark ? "dark ink on light" : "light ink on dark", label, answer);
            Add(200 + (found ? 0 : 1), "digit found", found ? "found" : "not found (whole picture)", label, answer);
        }
        return groups.Select(g => new Group(g.Value.Aspect, g.Key.Name, g.Value.Matrix)).ToList();
    }
}

using System.Globalization;
using System.Text;
using Ongko.Data;
using Ongko.Serialization;

namespace Ongko.Prediction;

/// <summary>One unlabelled image's pseudo-label: the ensemble's class and averaged probability, and whether it is kept.</summary>
public sealed record PseudoLabel(Sample Sample, int Digit, float Confidence, bool MembersAgree, bool Kept);

/// <summary>The pseudo-labels of a set of images, with counts per class (by the ensemble's class).</summary>
public sealed class PseudoLabelResult
{
    public required IReadOnlyList<PseudoLabel> Labels { get; init; }
    /// <summary>Images some member could not read (not labelled).</summary>
    public required IReadOnlyCollection<string> Skipped { get; init; }
    public required double Threshold { get; init; }
    public required int ClassCount { get; init; }
    /// <summary>Images the ensemble put in each class.</summary>
    public int[] PredictedPerClass => Count(_ => true);
    /// <summary>Kept images per class.</summary>
    public int[] KeptPerClass => Count(l => l.Kept);
    public int Kept => Labels.Count(l => l.Kept);

    int[] Count(Func<PseudoLabel, bool> which)
    {
        var counts = new int[ClassCount];
        foreach (var label in Labels) if (which(label)) counts[label.Digit]++;
        return counts;
    }
}

/// <summary>
/// Pseudo-labelling: an ensemble classifies unlabelled images; an image is kept when every member's most likely class
/// is the same and the averaged probability of that class is at least the threshold. The kept images are written as a
/// labels CSV (<c>filename,digit,confidence</c>) that a <c>folder_csv</c> source reads:
/// <code>
/// sources:
///   - {type: folder_csv, path: unlabelled, csv: labels.csv, use: train}
/// </code>
/// </summary>
public static class PseudoLabels
{
    /// <summary>Labels <paramref name="images"/> (their labels, if any, are not used).</summary>
    public static PseudoLabelResult Label(EnsembleClassifier ensemble, IReadOnlyList<Sample> images, double threshold, int batchSize = 256)
    {
        if (!(threshold >= 0 && threshold <= 1)) throw new ArgumentOutOfRangeException(nameof(threshold), "the threshold is a probability in [0, 1]");
        var answers = ensemble.ClassifySamples(images, batchSize);
        var labels = new List<PseudoLabel>(images.Count);
        for (int i = 0; i < images.Count; i++)
            if (answers.Predictions[i] is { } p)
                labels.Add(new PseudoLabel(images[i], p.Label, p.Confidence, p.MembersAgree, p.MembersAgree && p.Confidence >= threshold));
        return new PseudoLabelResult { Labels = labels, Skipped = answers.Skipped, Threshold = threshold, ClassCount = ensemble.ClassCount };
    }

    /// <summary>
    /// Writes the kept labels as CSV (atomically): <c>filename</c> (the sample's name, e.g. the file name inside the
    /// folder), <c>digit</c>, <c>confidence</c> (averaged probability, 4 decimals).
    /// </summary>
    public static void WriteCsv(string path, PseudoLabelResult result)
    {
        var csv = new StringBuilder("filename,digit,confidence\n");
        foreach (var label in result.Labels.Where(l => l.Kept))
            csv.Append(CsvTable.Quote(label.Sample.Name)).Append(',').Append(label.Digit.ToString(CultureInfo.InvariantCulture))
               .Append(',').Append(label.Confidence.ToString("F4", CultureInfo.InvariantCulture)).Append('\n');
        AtomicFile.WriteAllText(path, csv.ToString());
    }
}

using System.Globalization;
using System.Text;
using Ongko.Data;
using Ongko.Serialization;
using Ongko.Vision;

namespace Ongko.Prediction;

/// <summary>Thresholds of <see cref="LabelAudit"/>.</summary>
public sealed record AuditOptions
{
    /// <summary>wrong-label: the averaged probability of another class is at least this ...</summary>
    public double Contradiction { get; init; } = 0.8;
    /// <summary>... and that of the given class at most this.</summary>
    public double GivenAtMost { get; init; } = 0.05;
    /// <summary>
    /// unsure: the entropy of the averaged probabilities, divided by ln(classes) (0: certain, 1: uniform), is at least this
    /// and the given class is not the most likely one.
    /// </summary>
    public double Entropy { get; init; } = 0.6;
}

/// <summary>
/// One flagged image. <see cref="Reason"/>: <c>wrong-label</c> (the ensemble confidently says another class),
/// <c>no-digit</c> (the digit locator finds no ink), <c>unsure</c> (the averaged probabilities are spread out and the
/// given class is not the most likely);
/// several reasons are joined with '+'. <see cref="Score"/> ranks the findings (see <see cref="LabelAudit"/>).
/// </summary>
public sealed record AuditFinding(Sample Sample, int Given, int Predicted, float[] Probabilities, double Entropy, double Score, string Reason)
{
    /// <summary>The image's folder name and its name as in the labels CSV ("training-a/a00012.png"): what an exclude list names.</summary>
    public string FileName => LabelAudit.FileName(Sample);
}

/// <summary>The findings (highest score first) and what was looked at.</summary>
public sealed class AuditResult
{
    public required IReadOnlyList<AuditFinding> Findings { get; init; }
    public required int Audited { get; init; }
    public required IReadOnlyCollection<string> Skipped { get; init; }
    public required int ClassCount { get; init; }
    public double FlaggedFraction => Audited == 0 ? 0 : Findings.Count / (double)Audited;
    public int Count(string reason) => Findings.Count(f => f.Reason.Split('+').Contains(reason));
}

/// <summary>
/// Label audit: an ensemble (ideally of models that did not train on these images) looks at labelled images and
/// flags those whose label it confidently contradicts, those without any ink the digit locator can find, and those it
/// cannot make sense of. The score of a flagged image is <c>1 − p̄(given)</c> (how strongly the averaged probabilities
/// reject the given label), plus 1 when no digit was found, so blank or inkless images come first, then wrong labels,
/// then doubtful ones: score ∈ [0, 2].
/// </summary>
public static class LabelAudit
{
    public static AuditResult Run(EnsembleClassifier ensemble, IReadOnlyList<Sample> samples, AuditOptions? options = null, int batchSize = 256)
    {
        options ??= new AuditOptions();
        var answers = ensemble.ClassifySamples(samples, batchSize);
        int classes = ensemble.ClassCount;
        var findings = new List<AuditFinding>();
        int audited = 0;
        var found = new bool[samples.Count];
        Parallel.For(0, samples.Count, i => found[i] = answers.Predictions[i] is null || HasDigit(samples[i]));
        for (int i = 0; i < samples.Count; i++)
        {
            if (answers.Predictions[i] is not { } p) continue;
            audited++;
            var sample = samples[i];
            if (sample.Label < 0 || sample.Label >= classes) throw new DataException($"image {sample.Name} has no label 0..{classes - 1} to audit");
            double entropy = NormalizedEntropy(p.Probabilities);
            float given = p.Probabilities[sample.Label];
            var reasons = new List<string>();
            if (!found[i]) reasons.Add("no-digit");
            if (p.Label != sample.Label && p.Confidence >= options.Contradiction && given <= options.GivenAtMost) reasons.Add("wrong-label");
            if (entropy >= options.Entropy && p.Label != sample.Label) reasons.Add("unsure");
            if (reasons.Count == 0) continue;
            double score = 1 - given + (found[i] ? 0 : 1);
            findings.Add(new AuditFinding(sample, sample.Label, p.Label, p.Probabilities, entropy, score, string.Join('+', reasons)));
        }
        var ranked = findings.OrderByDescending(f => f.Score).ThenBy(f => f.FileName, StringComparer.Ordinal).ToList();
        return new AuditResult { Findings = ranked, Audited = audited, Skipped = answers.Skipped, ClassCount = classes };
    }

    /// <summary>Entropy of <paramref name="probabilities"/> divided by ln(count): 0 for one certain class, 1 for uniform.</summary>
    public static double NormalizedEntropy(ReadOnlySpan<float> probabilities)
    {
        double entropy = 0;
        foreach (float p in probabilities) if (p > 0) entropy -= p * Math.Log(p);
        return probabilities.Length > 1 ? entropy / Math.Log(probabilities.Length) : 0;
    }

    /// <summary>True when the digit locator finds ink in the sample's image.</summary>
    static bool HasDigit(Sample sample)
    {
        var image = sample.Image ?? ImageDecoder.DecodeCompact(sample.Path!, 1);
        return DigitLocator.Normalize(image, 28, 28).Found;
    }

    /// <summary>The sample's folder name and name ("training-a/a00012.png"); in-memory images: their name.</summary>
    public static string FileName(Sample sample)
    {
        if (sample.Path is null) return sample.Name;
        string folder = Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(sample.Path))) ?? "";
        string name = sample.Name.Replace('\\', '/');
        return folder.Length == 0 || name.Contains('/') ? name : folder + "/" + name;
    }

    /// <summary>
    /// Writes the findings as CSV (atomically), highest score first: <c>filename</c> (<see cref="AuditFinding.FileName"/>),
    /// <c>source</c>, <c>given</c>, <c>predicted</c>, <c>score</c>, <c>reason</c>, <c>entropy</c>, <c>p0</c>...
    /// </summary>
    public static void WriteCsv(string path, AuditResult result)
    {
        var inv = CultureInfo.InvariantCulture;
        var csv = new StringBuilder("filename,source,given,predicted,score,reason,entropy");
        for (int c = 0; c < result.ClassCount; c++) csv.Append(",p").Append(c.ToString(inv));
        csv.Append('\n');
        foreach (var f in result.Findings)
        {
            csv.Append(CsvTable.Quote(f.FileName)).Append(',').Append(CsvTable.Quote(f.Sample.Source)).Append(',')
               .Append(f.Given.ToString(inv)).Append(',').Append(f.Predicted.ToString(inv)).Append(',')
               .Append(f.Score.ToString("F4", inv)).Append(',').Append(f.Reason).Append(',').Append(f.Entropy.ToString("F4", inv));
            foreach (float p in f.Probabilities) csv.Append(',').Append(p.ToString("F4", inv));
            csv.Append('\n');
        }
        AtomicFile.WriteAllText(path, csv.ToString());
    }
}

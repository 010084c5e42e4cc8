using System.Globalization;
using Ongko.Data;
using Ongko.Serialization;
using Ongko.Training;
using Ongko.Vision;

namespace Ongko.Reports;

/// <summary>
/// The report of a prediction against ground truth (<c>ongko predict --gt</c>): the checkpoints' configs, images per
/// source and class, per-class metrics, the confusion matrix, the most confident mistakes (re-read and preprocessed
/// as the model saw them), timings and the machine. Same page as a training run's (<see cref="ReportHtml"/>).
/// </summary>
public static class PredictionReport
{
    /// <param name="samples">the images; <see cref="Sample.Label"/> is the ground truth, or -1 where the CSV has no row</param>
    /// <param name="probabilities">each sample's class probabilities, or null where the image could not be read</param>
    /// <param name="preprocessing">the model's preprocessing (the gallery shows its output)</param>
    /// <param name="checkpoints">the checkpoint file(s) the probabilities come from</param>
    /// <param name="seconds">the time prediction took</param>
    public static ReportContent Content(IReadOnlyList<Sample> samples, IReadOnlyList<float[]?> probabilities, int classCount,
                                        AugmentOptions preprocessing, IReadOnlyList<string> checkpoints, double seconds, int mistakes = 30)
    {
        if (probabilities.Count != samples.Count) throw new ArgumentException($"{probabilities.Count} probability rows for {samples.Count} samples", nameof(probabilities));
        var classNames = Enumerable.Range(0, classCount).Select(c => c.ToString(CultureInfo.InvariantCulture)).ToArray();
        var matrix = new ConfusionMatrix(classCount);
        var wrong = new List<int>();
        for (int i = 0; i < samples.Count; i++)
        {
            if (samples[i].Label < 0 || probabilities[i] is not { Length: > 0 } row) continue;
            int predicted = System.Numerics.Tensors.TensorPrimitives.IndexOfMax<float>(row);
            matrix.Add(samples[i].Label, predicted);
            if (predicted != samples[i].Label) wrong.Add(i);
        }
        var worst = wrong.OrderByDescending(i => probabilities[i]!.Max()).ThenBy(i => samples[i].Name, StringComparer.Ordinal).Take(mistakes).ToList();
        int read = probabilities.Count(p => p is { Length: > 0 });
        var inv = CultureInfo.InvariantCulture;
        return new ReportContent
        {
            Title = "Ongko prediction report", ClassNames = classNames,
            Status = $"{matrix.Total:N0} image(s) with ground truth scored by {string.Join(", ", checkpoints.Select(Path.GetFileName))}",
            Configs = checkpoints.Select(c => ($"training config of {c}", ConfigOf(c))).ToList(),
            Data = samples.Where(s => s.Label >= 0 && s.Label < classCount).GroupBy(s => s.Source).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => new DataCounts(g.Key, "test", ReportObserver.PerClass(g.Select(s => s.Label), classCount))).ToList(),
            Matrix = matrix, MatrixNote = "All images that have a row in the ground-truth CSV.",
            Mistakes = Gallery(samples, probabilities, worst, preprocessing),
            MistakesNote = $"The images the model got wrong with the highest confidence (ranked by the probability of the wrong class; at most {mistakes}), " +
                           "as the network sees them after preprocessing, with the top 3 classes.",
            Timings =
            [
                ("images", samples.Count.ToString("N0", inv)), ("read and classified", read.ToString("N0", inv)),
                ("without ground truth", samples.Count(s => s.Label < 0).ToString("N0", inv)),
                ("seconds", seconds.ToString("F2", inv)), ("images/s", (read / Math.Max(seconds, 1e-9)).ToString("N0", inv)),
            ],
            Machine = MachineInfo.Current(),
        };
    }

    /// <summary>Builds the report and writes it atomically to <paramref name="path"/>.</summary>
    public static void Write(string path, IReadOnlyList<Sample> samples, IReadOnlyList<float[]?> probabilities, int classCount,
                             AugmentOptions preprocessing, IReadOnlyList<string> checkpoints, double seconds) =>
        AtomicFile.WriteAllText(path, ReportHtml.Build(Content(samples, probabilities, classCount, preprocessing, checkpoints, seconds)));

    /// <summary>The chosen mistakes, each image read again and preprocessed as the model saw it.</summary>
    static List<Mistake> Gallery(IReadOnlyList<Sample> samples, IReadOnlyList<float[]?> probabilities, List<int> chosen, AugmentOptions preprocessing)
    {
        var options = preprocessing.Clone();
        options.OnBadImage = BadImagePolicy.Skip;
        var gallery = new Mistake?[chosen.Count];
        if (chosen.Count == 0) return [];
        var loader = new DataLoader(chosen.Select(i => samples[i]).ToList(), options, chosen.Count, shuffle: false, train: false, seed: 0, prefetch: 0,
                                    classCount: probabilities[chosen[0]]!.Length);
        foreach (var batch in loader.Epoch(0))
        {
            int channels = batch.Images[1], height = batch.Images[2], width = batch.Images[3], size = channels * height * width;
            for (int n = 0; n < batch.Count; n++)
            {
                int k = batch.SampleIndices[n], i = chosen[k];
                var image = ByteImage.FromUnitFloats(batch.Images.Span.Slice(n * size, size), channels, height, width);
                gallery[k] = Mistake.From(image, samples[i].Name, samples[i].Label, probabilities[i]);
            }
        }
        return gallery.OfType<Mistake>().ToList();
    }

    /// <summary>The training config a checkpoint records ("" when it has none or cannot be read).</summary>
    static string ConfigOf(string checkpoint)
    {
        try { return Checkpoint.Read(checkpoint).Metadata.GetValueOrDefault("config", ""); }
        catch (OngkoInputException) { return ""; }
    }
}

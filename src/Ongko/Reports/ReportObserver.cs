using System.Diagnostics;
using System.Globalization;
using Ongko.Data;
using Ongko.Serialization;
using Ongko.Training;
using Ongko.Vision;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Ongko.Reports;

/// <summary>
/// Writes a run's <c>report.html</c> (<see cref="ReportHtml"/>) when the run starts and again after every epoch and at
/// an interruption, atomically, so a stopped run still has one. It watches the validation batches of every epoch
/// (<see cref="IValidationObserver"/>: no extra pass) and keeps the confusion matrix and the most confident mistakes of
/// the best epoch. Data counts and sample names come from <see cref="DataLoader"/> sources; other sources are counted
/// by one pass over their labels.
/// </summary>
public sealed class ReportObserver : IValidationObserver
{
    public const string FileName = "report.html";

    readonly string path, title;
    readonly IBatchSource train;
    readonly IBatchSource? validation;
    readonly string? configYaml;
    readonly int sampleCount, mistakeCount;
    readonly string[] classNames;
    readonly Stopwatch wall = new();

    IReadOnlyList<DataCounts> data = [];
    List<ReportImage> samples = [];
    IReadOnlyList<EpochResult> history = [];
    int epochs;
    string status = "not started";

    // The epoch whose validation batches are being seen, and the one the report shows.
    int collectingEpoch = -1;
    ConfusionMatrix? collecting;
    WorstMistakes? collectingMistakes;
    int shownEpoch;
    bool shownIsBest;
    ConfusionMatrix? shownMatrix;
    List<Mistake>? shownMistakes;

    /// <param name="path">the report file (e.g. OUT/report.html)</param>
    /// <param name="configYaml">the resolved config to show, or null</param>
    /// <param name="samples">training inputs in the sample grid</param>
    /// <param name="mistakes">validation mistakes in the gallery</param>
    public ReportObserver(string path, IBatchSource train, IBatchSource? validation, string? configYaml = null, string title = "Ongko training run",
                          int samples = 48, int mistakes = 30)
    {
        (this.path, this.train, this.validation, this.configYaml, this.title) = (path, train, validation, configYaml, title);
        (sampleCount, mistakeCount) = (samples, mistakes);
        classNames = Enumerable.Range(0, train.ClassCount).Select(c => c.ToString(CultureInfo.InvariantCulture)).ToArray();
    }

    public void RunStarted(TrainingRunInfo info)
    {
        wall.Start();
        epochs = info.Epochs;
        data = [.. Counts(train, "train"), .. validation is null ? [] : Counts(validation, "valid")];
        samples = TakeSamples(info.FirstEpoch);
        history = [];
        status = $"running epoch {info.FirstEpoch} of {info.Epochs}";
        Write();
    }

    public void ValidationBatch(int epoch, Batch batch, ReadOnlySpan<float> probabilities)
    {
        int classes = classNames.Length;
        if (epoch != collectingEpoch)
            (collectingEpoch, collecting, collectingMistakes) = (epoch, new ConfusionMatrix(classes), new WorstMistakes(mistakeCount));
        int channels = batch.Images[1], height = batch.Images[2], width = batch.Images[3], size = channels * height * width;
        for (int n = 0; n < batch.Count; n++)
        {
            int label = batch.Labels[n];
            if (label < 0 || label >= classes) continue;
            var row = probabilities.Slice(n * classes, classes);
            int predicted = TensorPrimitives.IndexOfMax(row);
            collecting!.Add(label, predicted);
            if (predicted != label && collectingMistakes!.Wants(row[predicted]))
                collectingMistakes.Add(Mistake.From(ByteImage.FromUnitFloats(batch.Images.Span.Slice(n * size, size), channels, height, width),
                                                    NameOf(validation, batch.SampleIndices[n]), label, row));
        }
    }

    public void StateReached(TrainingSnapshot snapshot)
    {
        if (!snapshot.Interrupted) return;
        status = $"interrupted in epoch {snapshot.State.CompletedEpochs + 1} of {epochs} (step {snapshot.State.StepsIntoEpoch}); " +
                 "finished epochs are shown";
        Write();
    }

    public void EpochCompleted(EpochResult result, IReadOnlyList<EpochResult> history)
    {
        this.history = history.ToList();
        if (collectingEpoch == result.Epoch && (result.IsBest || shownMatrix is null))
            (shownEpoch, shownIsBest, shownMatrix, shownMistakes) = (result.Epoch, result.IsBest, collecting, collectingMistakes!.Ranked());
        status = result.Epoch >= epochs ? $"finished: {epochs} epoch(s)" : $"after epoch {result.Epoch} of {epochs}";
        Write();
    }

    /// <summary>What the report shows now.</summary>
    public ReportContent Content()
    {
        string which = shownIsBest ? "the best epoch so far" : "the latest epoch; the best epoch ran before this resume";
        bool validates = validation is { Count: > 0 };
        return new ReportContent
        {
            Title = title, Status = status, ClassNames = classNames,
            Configs = configYaml is null ? [] : [("resolved config (config.yaml)", configYaml)],
            Data = data, Samples = samples, History = history,
            Matrix = shownMatrix,
            MatrixNote = shownMatrix is not null ? $"Validation images at epoch {shownEpoch} ({which})."
                : validates ? "No epoch has finished yet." : "No validation data in this run.",
            Mistakes = shownMistakes,
            MistakesNote = shownMistakes is not null
                ? $"The validation images of epoch {shownEpoch} the model got wrong with the highest confidence (ranked by the probability of " +
                  "the wrong class; at most " + mistakeCount + "), as the network sees them, with the top 3 classes."
                : validates ? "No epoch has finished yet." : "No validation data in this run.",
            Timings = TimingRows(),
            Machine = MachineInfo.Current(),
        };
    }

    void Write() => AtomicFile.WriteAllText(path, ReportHtml.Build(Content()));

    List<(string, string)> TimingRows()
    {
        var inv = CultureInfo.InvariantCulture;
        double seconds = history.Sum(e => e.Seconds);
        var rows = new List<(string, string)>
        {
            ("epochs finished", $"{history.Count} of {epochs}"),
            ("training images per epoch", train.Count.ToString("N0", inv)),
            ("validation images", (validation?.Count ?? 0).ToString("N0", inv)),
            ("time in epochs (training + validation)", TimeSpan.FromSeconds(seconds).ToString(@"h\:mm\:ss", inv)),
            ("wall time of this process so far", wall.Elapsed.ToString(@"h\:mm\:ss", inv)),
        };
        if (history.Count > 0)
            rows.Add(("mean training images/s", history.Average(e => e.ImagesPerSecond).ToString("N0", inv)));
        return rows;
    }

    /// <summary>The first <see cref="sampleCount"/> training inputs of the epoch the run starts with.</summary>
    List<ReportImage> TakeSamples(int epoch)
    {
        var taken = new List<ReportImage>();
        if (sampleCount <= 0) return taken;
        foreach (var batch in train.Epoch(epoch))
        {
            int channels = batch.Images[1], height = batch.Images[2], width = batch.Images[3], size = channels * height * width;
            for (int n = 0; n < batch.Count && taken.Count < sampleCount; n++)
            {
                var image = ByteImage.FromUnitFloats(batch.Images.Span.Slice(n * size, size), channels, height, width);
                taken.Add(new ReportImage(image, batch.SoftTargets is null ? classNames[batch.Labels[n]] : $"{classNames[batch.Labels[n]]} (mixed)"));
            }
            if (taken.Count >= sampleCount) break;
        }
        return taken;
    }

    /// <summary>Images per source and class: a loader's sample list, else one pass over the source's labels.</summary>
    static IEnumerable<DataCounts> Counts(IBatchSource source, string split)
    {
        int classes = source.ClassCount;
        if (source is DataLoader loader)
            return loader.Samples.GroupBy(s => s.Source).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => new DataCounts(g.Key, split, PerClass(g.Select(s => s.Label), classes))).ToList();
        var labels = new List<int>(source.Count);
        foreach (var batch in source.Epoch(0)) labels.AddRange(batch.Labels);
        return [new DataCounts("(in memory)", split, PerClass(labels, classes))];
    }

    /// <summary>How many of the labels fall in each class (others ignored).</summary>
    internal static long[] PerClass(IEnumerable<int> labels, int classes)
    {
        var counts = new long[classes];
        foreach (int label in labels)
            if (label >= 0 && label < classes) counts[label]++;
        return counts;
    }

    static string NameOf(IBatchSource? source, int index) =>
        source is DataLoader loader && index >= 0 && index < loader.Samples.Count
            ? $"{loader.Samples[index].Name} ({loader.Samples[index].Source})" : $"#{index}";
}

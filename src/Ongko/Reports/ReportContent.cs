using Ongko.Training;
using Ongko.Vision;

namespace Ongko.Reports;

/// <summary>
/// Everything a report.html shows, as plain data: <see cref="ReportObserver"/> fills it during training,
/// <see cref="PredictionReport"/> after <c>ongko predict --gt</c>; <see cref="ReportHtml"/> turns it into one file.
/// A section whose data is null is left out (a prediction report has no curves); an empty list is shown with a note.
/// </summary>
public sealed record ReportContent
{
    /// <summary>The page's title and first heading.</summary>
    public required string Title { get; init; }
    /// <summary>One line under the title: where the run stands (e.g. "after epoch 3 of 20").</summary>
    public string Status { get; init; } = "";
    /// <summary>The class names, in class order (digits "0".."9").</summary>
    public required IReadOnlyList<string> ClassNames { get; init; }

    /// <summary>Config files to show (heading, YAML text): the resolved training config, or the checkpoints' configs.</summary>
    public IReadOnlyList<(string Heading, string Text)>? Configs { get; init; }
    /// <summary>Image counts per (source, split) and class.</summary>
    public IReadOnlyList<DataCounts>? Data { get; init; }
    /// <summary>Training inputs as the network sees them (after preprocessing and augmentation), with captions.</summary>
    public IReadOnlyList<ReportImage>? Samples { get; init; }
    /// <summary>Epochs so far (curves and per-epoch timings).</summary>
    public IReadOnlyList<EpochResult>? History { get; init; }
    /// <summary>The confusion matrix the per-class table and the matrix section show, and what it counts.</summary>
    public ConfusionMatrix? Matrix { get; init; }
    public string MatrixNote { get; init; } = "";
    /// <summary>Wrong answers, most confident first, and what they come from.</summary>
    public IReadOnlyList<Mistake>? Mistakes { get; init; }
    public string MistakesNote { get; init; } = "";
    /// <summary>Timing facts (name, value), shown above the per-epoch table.</summary>
    public IReadOnlyList<(string Name, string Value)>? Timings { get; init; }
    public required MachineInfo Machine { get; init; }
}

/// <summary>How many images of each class one source contributes to one split ("train", "valid", "test").</summary>
public sealed record DataCounts(string Source, string Split, long[] PerClass);

/// <summary>A small picture with a caption (a training sample).</summary>
public sealed record ReportImage(ByteImage Image, string Caption);

/// <summary>A wrong answer: the input as the network saw it, the true and predicted class and the top classes with probabilities.</summary>
public sealed record Mistake(ByteImage Image, string Name, int Truth, int Predicted, IReadOnlyList<(int Class, float Probability)> Top)
{
    /// <summary>The probability given to the (wrong) predicted class: what ranks mistakes.</summary>
    public float Confidence => Top.Count > 0 ? Top[0].Probability : 0;

    /// <summary>A mistake from one row of class probabilities; the image is kept, not copied.</summary>
    public static Mistake From(ByteImage image, string name, int truth, ReadOnlySpan<float> probabilities, int topCount = 3)
    {
        var top = new List<(int, float)>(topCount);
        var order = Enumerable.Range(0, probabilities.Length).ToArray();
        var keys = probabilities.ToArray();
        Array.Sort(keys, order, Comparer<float>.Create((a, b) => b.CompareTo(a)));
        for (int k = 0; k < Math.Min(topCount, order.Length); k++) top.Add((order[k], keys[k]));
        return new Mistake(image, name, truth, order[0], top);
    }
}

/// <summary>
/// Keeps the <c>capacity</c> most confident mistakes seen so far (a bounded min-heap on confidence), so a pass over
/// a large validation set copies only the images that make it into the gallery.
/// </summary>
public sealed class WorstMistakes(int capacity)
{
    readonly PriorityQueue<Mistake, float> heap = new();

    public int Count => heap.Count;

    /// <summary>Whether a mistake with this confidence would be kept (call before copying its image).</summary>
    public bool Wants(float confidence) => capacity > 0 && (heap.Count < capacity || confidence > heap.Peek().Confidence);

    public void Add(Mistake mistake)
    {
        if (!Wants(mistake.Confidence)) return;
        if (heap.Count == capacity) heap.Dequeue();
        heap.Enqueue(mistake, mistake.Confidence);
    }

    /// <summary>The kept mistakes, most confident first.</summary>
    public List<Mistake> Ranked() => heap.UnorderedItems.Select(item => item.Element)
        .OrderByDescending(m => m.Confidence).ThenBy(m => m.Name, StringComparer.Ordinal).ToList();
}

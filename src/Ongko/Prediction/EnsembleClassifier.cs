using Ongko.Data;
using Ongko.Serialization;
using Ongko.Tensors;
using Ongko.Vision;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Ongko.Prediction;

/// <summary>
/// An ensemble's answer for one image: the averaged probabilities (label, confidence) and each member's own
/// probabilities (already averaged over the test-time views), all owned by the caller.
/// </summary>
public sealed record EnsemblePrediction(int Label, float Confidence, float[] Probabilities, float[][] MemberProbabilities)
{
    /// <summary>True when every member's most likely class is <see cref="Label"/>.</summary>
    public bool MembersAgree => MemberProbabilities.All(p => TensorPrimitives.IndexOfMax(p) == Label);

    /// <summary>The averaged answer in the single-model form.</summary>
    public DigitPrediction ToDigitPrediction() => new(Label, Confidence, Probabilities);
}

/// <summary>Predictions for a list of samples: null where some member could not read the image, with the reasons in <see cref="Skipped"/>.</summary>
public sealed record EnsembleClassification(IReadOnlyList<EnsemblePrediction?> Predictions, IReadOnlyCollection<string> Skipped);

/// <summary>
/// Several classifiers (checkpoints) whose probabilities are averaged, optionally each over test-time views:
/// p̄ = (1/M) Σ_members (1/V) Σ_views p(member, view). Every member preprocesses the image its own way (from its own
/// checkpoint metadata: inversion, digit locator, size, channels), so models trained differently can be combined;
/// they must agree on the number of classes. An ensemble of one without augmentation gives exactly the member's answers.
/// <code>
/// var ensemble = EnsembleClassifier.Load(["a.safetensors", "b.safetensors"], TestTimeAugmentation.Standard);
/// EnsemblePrediction p = ensemble.Classify("digit.png");   // p.Label, p.Confidence, p.MembersAgree
/// </code>
/// Thread safety: as <see cref="DigitClassifier"/> (every method may be called from several threads at once).
/// </summary>
public sealed class EnsembleClassifier
{
    readonly DigitClassifier[] members;

    /// <param name="members">The classifiers, all with the same class count.</param>
    /// <param name="augmentation">Test-time views averaged per member (null: the input as it is).</param>
    /// <param name="names">Each member's name for error messages (e.g. its checkpoint file).</param>
    public EnsembleClassifier(IReadOnlyList<DigitClassifier> members, TestTimeAugmentation? augmentation = null, IReadOnlyList<string>? names = null)
    {
        if (members.Count == 0) throw new ArgumentException("an ensemble needs at least one member", nameof(members));
        for (int m = 1; m < members.Count; m++)
            if (members[m].ClassCount != members[0].ClassCount)
            {
                string Name(int i) => names is not null && i < names.Count ? names[i] : $"member {i + 1}";
                throw new CheckpointException($"has {members[m].ClassCount} classes but {Name(0)} has {members[0].ClassCount}: " +
                                              "an ensemble's checkpoints must share num_class", Name(m));
            }
        this.members = members.ToArray();
        Augmentation = augmentation;
        ClassCount = members[0].ClassCount;
    }

    /// <summary>Loads every checkpoint (<see cref="DigitClassifier.Load"/>); problems are a <see cref="CheckpointException"/> naming the file.</summary>
    public static EnsembleClassifier Load(IReadOnlyList<string> checkpoints, TestTimeAugmentation? augmentation = null)
    {
        if (checkpoints.Count == 0) throw new ArgumentException("give at least one checkpoint", nameof(checkpoints));
        return new EnsembleClassifier(checkpoints.Select(DigitClassifier.Load).ToArray(), augmentation, checkpoints);
    }

    public IReadOnlyList<DigitClassifier> Members => members;
    public TestTimeAugmentation? Augmentation { get; }
    public int ClassCount { get; }
    /// <summary>Channels to decode files with: the most any member uses.</summary>
    int DecodeChannels => members.Max(m => m.Preprocessing.Channels);

    /// <summary>Classifies a PNG or JPEG file.</summary>
    public EnsemblePrediction Classify(string imagePath) => Classify(ImageDecoder.DecodeCompact(imagePath, DecodeChannels));

    /// <summary>Classifies a PNG or JPEG image held in memory; <paramref name="name"/> appears in error messages.</summary>
    public EnsemblePrediction Classify(byte[] encodedImage, string name = "image") =>
        Classify(ImageDecoder.Decode(encodedImage, DecodeChannels, name, compact: true));

    /// <summary>Classifies a decoded image (1 or 3 planes, any size).</summary>
    public EnsemblePrediction Classify(ByteImage image) => Classify([image])[0];

    /// <summary>Classifies several decoded images; each member preprocesses them its own way.</summary>
    public EnsemblePrediction[] Classify(IReadOnlyList<ByteImage> images)
    {
        var perMember = new float[members.Length][];
        for (int m = 0; m < members.Length; m++)
        {
            perMember[m] = new float[images.Count * ClassCount];
            MemberProbabilities(members[m], members[m].Prepare(images), perMember[m]);
        }
        return Enumerable.Range(0, images.Count).Select(n => Combine(perMember, n)).ToArray();
    }

    /// <summary>Classifies files in batches; a file some member cannot read gets null and a line in Skipped.</summary>
    public EnsembleClassification ClassifyFiles(IReadOnlyList<string> paths, int batchSize = 256) =>
        ClassifySamples(paths.Select(path => new Sample(path, -1, "files")).ToList(), batchSize);

    /// <summary>
    /// Classifies samples (files or in-memory images; labels are ignored) in batches, each member through its own
    /// preprocessing and a data loader that skips unreadable images.
    /// </summary>
    public EnsembleClassification ClassifySamples(IReadOnlyList<Sample> samples, int batchSize = 256)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), "batch size must be at least 1");
        batchSize = Math.Min(batchSize, Math.Max(1, samples.Count));
        var perMember = new float[members.Length][];
        var read = new int[samples.Count];  // how many members read each sample
        var skipped = new SortedSet<string>(StringComparer.Ordinal);
        for (int m = 0; m < members.Length; m++)
        {
            var options = members[m].Preprocessing;
            options.OnBadImage = BadImagePolicy.Skip;
            var loader = new DataLoader(samples, options, batchSize, shuffle: false, train: false, seed: 0, classCount: ClassCount);
            perMember[m] = new float[samples.Count * ClassCount];
            var batchProbabilities = new float[batchSize * ClassCount];
            foreach (var batch in loader.Epoch(0))
            {
                MemberProbabilities(members[m], batch.Images, batchProbabilities);
                for (int n = 0; n < batch.Count; n++)
                {
                    int index = batch.SampleIndices[n];
                    batchProbabilities.AsSpan(n * ClassCount, ClassCount).CopyTo(perMember[m].AsSpan(index * ClassCount, ClassCount));
                    read[index]++;
                }
            }
            skipped.UnionWith(loader.SkippedMessages);
        }
        var predictions = new EnsemblePrediction?[samples.Count];
        for (int i = 0; i < samples.Count; i++)
            if (read[i] == members.Length) predictions[i] = Combine(perMember, i);
        return new EnsembleClassification(predictions, skipped);
    }

    /// <summary>
    /// One member's probabilities of preprocessed inputs [N, C, H, W] into <paramref name="destination"/> (N x classes),
    /// averaged over the test-time views when there are any.
    /// </summary>
    void MemberProbabilities(DigitClassifier member, Tensor input, Span<float> destination)
    {
        int count = input[0];
        if (Augmentation is null) { member.Probabilities(input, destination); return; }
        var target = destination[..(count * ClassCount)];
        target.Clear();
        var view = new Tensor(input.ShapeArray);
        var viewProbabilities = new float[count * ClassCount];
        float share = 1f / Augmentation.Views.Count;
        foreach (var v in Augmentation.Views)
        {
            TestTimeAugmentation.Apply(v, input.Span, count * input[1], input[2], input[3], view.Span);
            member.Probabilities(view, viewProbabilities);
            for (int k = 0; k < target.Length; k++) target[k] += share * viewProbabilities[k];
        }
    }

    /// <summary>Sample <paramref name="index"/>'s members' rows and their mean.</summary>
    EnsemblePrediction Combine(float[][] perMember, int index)
    {
        var rows = perMember.Select(p => p.AsSpan(index * ClassCount, ClassCount).ToArray()).ToArray();
        var mean = new float[ClassCount];
        if (rows.Length == 1) rows[0].CopyTo(mean);
        else
            for (int c = 0; c < ClassCount; c++)
            {
                double sum = 0;
                foreach (var row in rows) sum += row[c];
                mean[c] = (float)(sum / rows.Length);
            }
        int best = TensorPrimitives.IndexOfMax(mean);
        return new EnsemblePrediction(best, mean[best], mean, rows);
    }
}

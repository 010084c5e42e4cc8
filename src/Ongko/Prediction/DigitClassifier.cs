using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Ongko.Data;
using Ongko.Kernels;
using Ongko.Models;
using Ongko.Serialization;
using Ongko.Tensors;
using Ongko.Vision;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Ongko.Prediction;

/// <summary>One image's answer: the most likely class, its probability, and every class's probability (owned by the caller).</summary>
public sealed record DigitPrediction(int Label, float Confidence, float[] Probabilities);

/// <summary>Predictions for a list of files: null where a file could not be read, with the reasons in <see cref="Skipped"/>.</summary>
public sealed record FileClassification(IReadOnlyList<DigitPrediction?> Predictions, IReadOnlyCollection<string> Skipped);

/// <summary>
/// Classifies images with a trained Ongko checkpoint: the model and the preprocessing it was trained with
/// (inversion, digit crop, morphology, resize), all read from the checkpoint.
/// <code>
/// var classifier = DigitClassifier.Load("best.safetensors");
/// DigitPrediction p = classifier.Classify("digit.png");   // p.Label, p.Confidence, p.Probabilities
/// </code>
/// Thread safety: every method may be called from several threads at once. Each call borrows a private copy of
/// the model (copies are made on demand from the checkpoint's weights and reused), so calls run in parallel and
/// give exactly the answers one thread would.
/// </summary>
public sealed class DigitClassifier
{
    readonly Func<Sequential> newModel;
    readonly ConcurrentBag<Sequential> models = [];
    // Each pooled model's inference plan (compiled on its first call; null where the model has none, which then runs its
    // evaluation plan): a model from the pool is used by one call at a time, and its weights never change here.
    readonly ConditionalWeakTable<Sequential, StrongBox<InferencePlan?>> inferencePlans = new();
    readonly ImagePipeline pipeline;
    readonly AugmentOptions preprocessing;

    DigitClassifier(Sequential first, Func<Sequential> newModel, AugmentOptions preprocessing, int classCount)
    {
        this.newModel = newModel;
        models.Add(first);
        this.preprocessing = preprocessing.Clone();
        this.preprocessing.Augment = false;
        this.preprocessing.Affine = null;
        this.preprocessing.Cache = false;
        pipeline = new ImagePipeline(this.preprocessing);
        ClassCount = classCount;
        InputShape = first.InputShape.ToArray();
        EndsWithSoftmax = first.EndsWithSoftmax;
    }

    /// <summary>
    /// Loads any Ongko checkpoint (from <c>ongko train</c>, a training run or <see cref="Checkpoint.Save"/>).
    /// Problems with the file are a <see cref="CheckpointException"/> naming it.
    /// </summary>
    public static DigitClassifier Load(string path)
    {
        var (model, preprocessing, content) = Checkpoint.LoadModelAndPreprocessing(path);
        int classes = model.OutputShape[^1];
        if (content.Metadata.ContainsKey("num_class")) classes = int.Parse(content.Metadata["num_class"], System.Globalization.CultureInfo.InvariantCulture);
        CheckpointMetadata.CheckModel(classes, preprocessing, model, path);
        return new DigitClassifier(model, () => Checkpoint.LoadModel(path, content), preprocessing, classes);
    }

    /// <summary>Wraps a model in memory (e.g. just trained); its weights are copied, so later training does not change the classifier.</summary>
    public static DigitClassifier FromModel(Sequential model, AugmentOptions? preprocessing = null)
    {
        if (!model.IsBuilt) throw new InvalidOperationException("the model must be built first");
        string temporary = Path.Combine(Path.GetTempPath(), $"ongko-{Guid.NewGuid():N}.safetensors");
        try
        {
            Checkpoint.Save(temporary, model, preprocessing: preprocessing);
            return Load(temporary);
        }
        finally { File.Delete(temporary); }
    }

    public int ClassCount { get; }
    /// <summary>The model's input [channels, height, width].</summary>
    public int[] InputShape { get; }
    /// <summary>The preprocessing every image goes through (a copy; training-only augmentation off).</summary>
    public AugmentOptions Preprocessing => preprocessing.Clone();
    bool EndsWithSoftmax { get; }

    /// <summary>Classifies a PNG or JPEG file.</summary>
    public DigitPrediction Classify(string imagePath) => Classify(ImageDecoder.DecodeCompact(imagePath, preprocessing.Channels));

    /// <summary>Classifies a PNG or JPEG image held in memory; <paramref name="name"/> appears in error messages.</summary>
    public DigitPrediction Classify(byte[] encodedImage, string name = "image") =>
        Classify(ImageDecoder.Decode(encodedImage, preprocessing.Channels, name, compact: true));

    /// <summary>Classifies a decoded image (1 or 3 planes, any size; it is preprocessed like the training images).</summary>
    public DigitPrediction Classify(ByteImage image) => Classify([image])[0];

    /// <summary>Classifies several decoded images in one batch.</summary>
    public DigitPrediction[] Classify(IReadOnlyList<ByteImage> images) => ClassifyPrepared(Prepare(images));

    /// <summary>Decoded images preprocessed as this model's inputs: [N, channels, height, width] in [0, 1].</summary>
    public Tensor Prepare(IReadOnlyList<ByteImage> images)
    {
        var input = new Tensor([images.Count, .. InputShape]);
        int size = pipeline.SampleSize;
        for (int n = 0; n < images.Count; n++)
            pipeline.Process(pipeline.ToInputChannels(images[n]), null, input.Span.Slice(n * size, size));
        return input;
    }

    /// <summary>Classifies images that are already preprocessed: <paramref name="input"/> is [N, channels, height, width] in [0, 1].</summary>
    public DigitPrediction[] ClassifyPrepared(Tensor input)
    {
        var probabilities = new float[input[0] * ClassCount];
        Probabilities(input, probabilities);
        return Enumerable.Range(0, input[0]).Select(n => Answer(probabilities.AsSpan(n * ClassCount, ClassCount))).ToArray();
    }

    /// <summary>
    /// Classifies files in batches; a file that cannot be read gets null and a line in
    /// <see cref="FileClassification.Skipped"/> (in file order), so one bad file does not stop a folder.
    /// <para>
    /// Batch-parallel: <see cref="Threads.Count"/> workers each take the next batch of <paramref name="batchSize"/>
    /// files (smaller ones at the end, <see cref="BatchStarts"/>), read, decode and preprocess it, and run it through
    /// their own copy of the model with the kernels' ranges on their own thread (<see cref="Threads.Inline"/>): no
    /// hand-offs between a decoding stage and the model, every
    /// core busy with its own batch. The batches, the images forwarded together (unreadable ones left out) and the
    /// ranges are those of <see cref="ClassifyFilesSequentially"/>, so the answers are the same bit for bit.
    /// </para>
    /// </summary>
    public FileClassification ClassifyFiles(IReadOnlyList<string> paths, int batchSize = 256) =>
        ClassifyFiles(paths, batchSize, Threads.Count);

    /// <summary><see cref="ClassifyFiles(IReadOnlyList{string}, int)"/> on the calling thread alone, batch after batch (the reference for tests).</summary>
    public FileClassification ClassifyFilesSequentially(IReadOnlyList<string> paths, int batchSize = 256) =>
        ClassifyFiles(paths, batchSize, workers: 1);

    FileClassification ClassifyFiles(IReadOnlyList<string> paths, int batchSize, int workers)
    {
        batchSize = Math.Clamp(batchSize, 1, Math.Max(1, paths.Count));  // a batch beyond the files allocates nothing extra
        var starts = BatchStarts(paths.Count, batchSize);
        int batches = starts.Length - 1, next = -1;
        var predictions = new DigitPrediction?[paths.Count];
        var problems = new string?[paths.Count];
        void Work(bool warmUp)
        {
            if (warmUp) WarmUp();
            var input = new Tensor([batchSize, .. InputShape]);
            var probabilities = new float[batchSize * ClassCount];
            var rows = new int[batchSize];
            int size = pipeline.SampleSize;
            for (int b = Interlocked.Increment(ref next); b < batches; b = Interlocked.Increment(ref next))
            {
                int start = starts[b], end = starts[b + 1], count = 0;
                input.Resize([end - start, .. InputShape]);
                for (int i = start; i < end; i++)
                {
                    try
                    {
                        var decoded = pipeline.ToInputChannels(ImageDecoder.DecodeCompact(paths[i], preprocessing.Channels));
                        pipeline.Process(decoded, null, input.Data.AsSpan(count * size, size));
                        rows[count++] = i;
                    }
                    catch (DataException e) { problems[i] = e.Message; }
                }
                if (count == 0) continue;
                input.Resize([count, .. InputShape]);
                using (Threads.Inline()) Probabilities(input, probabilities);
                for (int n = 0; n < count; n++) predictions[rows[n]] = Answer(probabilities.AsSpan(n * ClassCount, ClassCount));
            }
        }
        workers = Math.Clamp(workers, 1, Math.Max(1, batches));
        // The helpers first run the model on a few blank images: its code is compiled (JIT) on their cores while the first
        // worker compiles the decoder's and the preprocessing's for its batch, not after (a worker that reaches a method
        // another is compiling waits for it, so the workers would otherwise compile everything one after the other).
        var helpers = Enumerable.Range(1, workers - 1)
            .Select(_ => Task.Factory.StartNew(() => Work(warmUp: true), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        Exception? failure = null;
        try { Work(warmUp: false); }
        catch (Exception e) { failure = e; }
        try { Task.WaitAll(helpers); }
        catch (AggregateException e) { failure ??= e.InnerExceptions[0]; }
        if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        var skipped = problems.Where(p => p is not null).Select(p => p!).ToList();
        if (paths.Count > 0 && skipped.Count == paths.Count)
            throw new DataException($"none of the {paths.Count:N0} image(s) could be read; the first problems: {string.Join("; ", skipped.Take(3))}");
        return new FileClassification(predictions, skipped);
    }

    /// <summary>
    /// Where the batches of <paramref name="count"/> files begin (and, last, <paramref name="count"/>): full batches while a
    /// quarter of what is left fills one, then a quarter of what is left (at least <see cref="SmallestTailBatch"/>), so the
    /// workers run out of files within a small batch of each other instead of one finishing a whole batch alone.
    /// It depends on the count and the batch size only, so any number of workers forwards the same batches.
    /// </summary>
    internal static int[] BatchStarts(int count, int batchSize)
    {
        var starts = new List<int> { 0 };
        for (int start = 0; start < count;)
        {
            int left = count - start;
            int size = Math.Min(left, Math.Clamp((left + 3) / 4, Math.Min(SmallestTailBatch, batchSize), batchSize));
            starts.Add(start += size);
        }
        return [.. starts];
    }

    const int SmallestTailBatch = 32;

    /// <summary>Blank images through the model on this thread, enough for the inference plan's batch path (their answers are dropped).</summary>
    void WarmUp()
    {
        const int Images = 16;
        var probabilities = new float[Images * ClassCount];
        using (Threads.Inline()) Probabilities(new Tensor([Images, .. InputShape]), probabilities);
    }

    /// <summary>Class probabilities of preprocessed inputs [N, C, H, W] into <paramref name="destination"/> (N x classes).</summary>
    public void Probabilities(Tensor input, Span<float> destination)
    {
        int count = input[0];
        if (input.Rank != 4 || !input.Shape[1..].SequenceEqual(InputShape))
            throw new ArgumentException($"input must be [N, {string.Join(", ", InputShape)}], got {Tensor.ShapeString(input.Shape)}", nameof(input));
        if (destination.Length < count * ClassCount) throw new ArgumentException("destination is shorter than N x classes", nameof(destination));
        var model = models.TryTake(out var pooled) ? pooled : newModel();
        try
        {
            var plan = inferencePlans.GetValue(model, m => new(InferencePlan.TryCompile(m))).Value;
            var output = (plan is null ? model.Forward(input, training: false) : plan.Forward(input)).Span;
            for (int n = 0; n < count; n++)
            {
                var row = output.Slice(n * ClassCount, ClassCount);
                var target = destination.Slice(n * ClassCount, ClassCount);
                if (EndsWithSoftmax) row.CopyTo(target);
                else TensorPrimitives.SoftMax(row, target);
            }
        }
        finally { models.Add(model); }
    }

    static DigitPrediction Answer(ReadOnlySpan<float> probabilities)
    {
        int best = TensorPrimitives.IndexOfMax(probabilities);
        return new DigitPrediction(best, probabilities[best], probabilities.ToArray());
    }
}

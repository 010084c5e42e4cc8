using System.Collections.Concurrent;
using Ongko.Tensors;
using Ongko.Vision;

namespace Ongko.Data;

/// <summary>
/// One batch. The loader reuses a small pool of these: a batch is valid until the next one is
/// requested from <see cref="DataLoader.Epoch"/>; copy what must outlive that.
/// </summary>
public sealed class Batch
{
    /// <summary>[Count, Channels, Height, Width], values in [0, 1].</summary>
    public Tensor Images { get; }
    /// <summary>Class of each image (length Count); for a mixed batch, the original image's class. -1 for unlabelled images.</summary>
    public int[] Labels { get; private set; } = [];
    /// <summary>
    /// Each image's weight in the training loss (length Count; its source's <c>weight</c>), or null when all are 1.
    /// </summary>
    public float[]? Weights { get; internal set; }
    float[] weights = [];
    /// <summary>[Count, classCount] mixup targets (rows sum to 1) when this batch was mixed, else null.</summary>
    public Tensor? SoftTargets { get; internal set; }
    /// <summary>Index of each image in the loader's sample list (length Count), e.g. for file names in predictions.</summary>
    public int[] SampleIndices { get; private set; } = [];
    /// <summary>Images in this batch (fewer than the batch size for the last batch or when images were skipped).</summary>
    public int Count { get; private set; }
    /// <summary>Position of this batch within its epoch.</summary>
    public int Index { get; internal set; }

    internal readonly Tensor MixTargets;
    /// <summary>Mixup's scratch copy of the images (empty when the loader never mixes).</summary>
    internal readonly float[] MixScratch;
    internal readonly int[] Slots;
    internal readonly bool[] Failed;

    internal Batch(int batchSize, int channels, int height, int width, int classCount, bool mixes)
    {
        Images = new Tensor(batchSize, channels, height, width);
        MixTargets = new Tensor(batchSize, classCount);
        MixScratch = mixes ? new float[batchSize * channels * height * width] : [];
        Slots = new int[batchSize];
        Failed = new bool[batchSize];
    }

    internal void SetCount(int count, int channels, int height, int width, int classCount)
    {
        Count = count;
        Images.Resize([count, channels, height, width]);
        MixTargets.Resize([count, classCount]);
        if (Labels.Length != count) { Labels = new int[count]; SampleIndices = new int[count]; weights = new float[count]; }
        Weights = null;
    }

    /// <summary>Sets <see cref="Weights"/> from each image's sample (null when all are 1).</summary>
    internal void SetWeights(IReadOnlyList<Sample> samples)
    {
        bool any = false;
        for (int k = 0; k < Count; k++) any |= (weights[k] = samples[SampleIndices[k]].Weight) != 1;
        Weights = any ? weights : null;
    }
}

/// <summary>
/// Feeds batches for training or evaluation. Each epoch's order comes from (seed, epoch) alone and each
/// image's augmentation from (seed, epoch, sample index), so a resumed run sees exactly the same data
/// without saved generator state, whatever the thread scheduling. Images are decoded and augmented in
/// parallel, and up to <c>prefetch</c> batches are prepared in the background while the caller trains.
/// </summary>
public sealed class DataLoader : IBatchSource
{
    readonly IReadOnlyList<Sample> samples;
    readonly ImagePipeline pipeline;
    readonly AugmentOptions options;
    readonly bool shuffle, train, cutout;
    readonly ulong seed;
    readonly int prefetch;
    readonly PreparedImageCache? cache;
    readonly ConcurrentDictionary<int, string> bad = new();

    /// <param name="samples">The images (the loader keeps the reference).</param>
    /// <param name="options">Preprocessing and augmentation options.</param>
    /// <param name="batchSize">Images per batch (the last batch may be smaller).</param>
    /// <param name="shuffle">Shuffle each epoch (order from seed and epoch).</param>
    /// <param name="train">Apply the training-only augmentations (rotation, blur, cutout, mixup).</param>
    /// <param name="seed">Seed for the order and the augmentations.</param>
    /// <param name="classCount">Number of classes (mixup target width).</param>
    /// <param name="prefetch">Batches prepared ahead in the background (0: prepare on demand).</param>
    public DataLoader(IReadOnlyList<Sample> samples, AugmentOptions options, int batchSize, bool shuffle, bool train, ulong seed,
                      int classCount = 10, int prefetch = 2)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), "batch size must be at least 1");
        if (prefetch < 0) throw new ArgumentOutOfRangeException(nameof(prefetch));
        this.samples = samples;
        this.options = options.Clone();
        pipeline = new ImagePipeline(this.options);
        BatchSize = batchSize; ClassCount = classCount;
        this.shuffle = shuffle; this.train = train; this.seed = seed; this.prefetch = prefetch;
        cutout = train && this.options.ContourCutoutProbability > 0;
        if (this.options.Cache) cache = new PreparedImageCache(samples.Count);
        long values = (long)Math.Max(1, Math.Min(batchSize, samples.Count)) * this.options.Channels * this.options.Height * this.options.Width;
        if (values > Array.MaxLength)
            throw new OngkoInputException($"a batch of {Math.Min(batchSize, samples.Count):N0} images of {this.options.Channels}x{this.options.Height}x{this.options.Width} " +
                                          "is more than one array can hold; use a smaller batch");
    }

    public int Count => samples.Count;
    public int BatchSize { get; }
    public int ClassCount { get; }
    public int[] SampleShape => [options.Channels, options.Height, options.Width];
    public IReadOnlyList<Sample> Samples => samples;
    public ImagePipeline Pipeline => pipeline;
    /// <summary>Batches per epoch (ceiling of Count / BatchSize; fewer images if some are skipped).</summary>
    public int BatchCount => (samples.Count + BatchSize - 1) / BatchSize;
    /// <summary>Distinct images skipped so far because they could not be read (<c>on_bad_image: skip</c>).</summary>
    public int SkippedCount => bad.Count;
    /// <summary>Each skipped image and why, for the end-of-run report.</summary>
    public IReadOnlyCollection<string> SkippedMessages => bad.Values.ToArray();
    /// <summary>Bytes held by the cache so far.</summary>
    public long CacheBytes => cache?.Bytes ?? 0;

    /// <summary>The order in which an epoch visits the samples.</summary>
    public int[] Order(int epoch)
    {
        var order = new int[samples.Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        if (shuffle) new Rng(Mix(seed, epoch, 0, 0x5348554646UL)).Shuffle(order.AsSpan());
        return order;
    }

    /// <summary>
    /// The batches of one epoch. Throws <see cref="DataException"/> for a bad image when
    /// <c>on_bad_image</c> is <c>fail</c>. Each batch is valid until the next is requested.
    /// </summary>
    public IEnumerable<Batch> Epoch(int epoch)
    {
        int[] order = Order(epoch);
        int batchCount = BatchCount;
        long yielded = 0;
        if (prefetch == 0)
        {
            var only = NewBatch();
            for (int b = 0; b < batchCount; b++) { Fill(only, order, epoch, b); yielded += only.Count; if (only.Count > 0) yield return only; }
            if (yielded == 0 && samples.Count > 0) throw NothingReadable();
            yield break;
        }

        var free = new BlockingCollection<Batch>();
        for (int i = 0; i < prefetch + 1; i++) free.Add(NewBatch());
        var ready = new BlockingCollection<Batch>(prefetch);
        using var stop = new CancellationTokenSource();
        Exception? failure = null;
        // A dedicated thread: the producer blocks on the queues, which must not tie up a pool thread that Parallel.For needs.
        var producer = Task.Factory.StartNew(() =>
        {
            try
            {
                for (int b = 0; b < batchCount; b++)
                {
                    var batch = free.Take(stop.Token);
                    Fill(batch, order, epoch, b);
                    ready.Add(batch, stop.Token);
                }
            }
            catch (OperationCanceledException) { }
            catch (Exception e) { failure = e; }
            finally { ready.CompleteAdding(); }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            Batch? previous = null;
            foreach (var batch in ready.GetConsumingEnumerable())
            {
                if (previous is not null) free.Add(previous);
                previous = batch;
                yielded += batch.Count;
                if (batch.Count > 0) yield return batch;
            }
            producer.Wait();
            if (failure is not null)
            {
                if (failure is AggregateException { InnerExceptions.Count: > 0 } aggregate) failure = aggregate.InnerExceptions[0];
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }
            if (yielded == 0 && samples.Count > 0) throw NothingReadable();
        }
        finally
        {
            stop.Cancel();
            try { producer.Wait(); } catch (AggregateException) { }
        }
    }

    /// <summary>Every image was skipped: training or predicting on nothing is an input error, with the first reasons.</summary>
    DataException NothingReadable() =>
        new($"none of the {samples.Count:N0} image(s) could be read; the first problems: {string.Join("; ", SkippedMessages.Take(3))}");

    /// <summary>Batches hold at most the whole data set: a batch size beyond it allocates nothing extra.</summary>
    Batch NewBatch() => new(Math.Max(1, Math.Min(BatchSize, samples.Count)), options.Channels, options.Height, options.Width, ClassCount,
                            mixes: train && options.Mixup > 0);

    void Fill(Batch batch, int[] order, int epoch, int batchIndex)
    {
        int start = batchIndex * BatchSize, size = Math.Min(BatchSize, order.Length - start);
        int sampleSize = pipeline.SampleSize;
        batch.SetCount(size, options.Channels, options.Height, options.Width, ClassCount);
        float[] images = batch.Images.Data;
        Exception? failure = null;

        Parallel.For(0, size, k =>
        {
            int index = order[start + k];
            batch.Slots[k] = index;
            batch.Failed[k] = false;
            try
            {
                if (bad.ContainsKey(index)) { batch.Failed[k] = true; return; }
                Rng? rng = train ? new Rng(Mix(seed, epoch, index, 0x41554721UL)) : null;
                Render(index, rng, images.AsSpan(k * sampleSize, sampleSize));
            }
            catch (DataException e)
            {
                batch.Failed[k] = true;
                if (options.OnBadImage == BadImagePolicy.Fail) Interlocked.CompareExchange(ref failure, e, null);
                else bad.TryAdd(index, e.Message);
            }
        });
        if (failure is not null) throw failure;

        // Close the gaps left by skipped images.
        int count = 0;
        for (int k = 0; k < size; k++)
        {
            if (batch.Failed[k]) continue;
            if (count != k) Array.Copy(images, k * sampleSize, images, count * sampleSize, sampleSize);
            batch.Slots[count++] = batch.Slots[k];
        }
        batch.SetCount(count, options.Channels, options.Height, options.Width, ClassCount);
        bool labelled = true;
        for (int k = 0; k < count; k++)
        {
            batch.SampleIndices[k] = batch.Slots[k];
            batch.Labels[k] = samples[batch.Slots[k]].Label;
            labelled &= batch.Labels[k] >= 0 && batch.Labels[k] < ClassCount;
        }
        batch.Index = batchIndex;
        batch.SoftTargets = null;
        if (train) batch.SetWeights(samples);
        if (train && options.Mixup > 0 && labelled && count > 1)
        {
            var rng = new Rng(Mix(seed, epoch, batchIndex, 0x4D49585550UL));
            if (rng.NextDouble() < options.Mixup)
            {
                Mixup.Apply(batch.Images.Span, count, sampleSize, batch.Labels, batch.MixTargets.Span, ClassCount, rng, 8.0, batch.MixScratch);
                batch.SoftTargets = batch.MixTargets;
            }
        }
    }

    /// <summary>Sample <paramref name="index"/> as floats: from the cache, else decoded and prepared (and then cached).</summary>
    void Render(int index, Rng? rng, Span<float> destination)
    {
        if (cache is not null && cache.TryRender(index, pipeline, rng, destination)) return;
        var sample = samples[index];
        var decoded = pipeline.ToInputChannels(sample.Image ?? ImageDecoder.DecodeCompact(sample.Path!, options.Channels));
        var prepared = pipeline.Prepare(decoded, cutout, keepSmallCrop: cache is not null);
        cache?.Add(index, prepared);
        pipeline.Render(prepared, rng, destination);
    }

    /// <summary>A well-mixed 64-bit seed from (seed, a, b, tag): SplitMix64's finaliser applied in a chain.</summary>
    internal static ulong Mix(ulong seed, long a, long b, ulong tag)
    {
        ulong x = Finalise(seed ^ Finalise(tag));
        x = Finalise(x ^ (ulong)a);
        return Finalise(x ^ ((ulong)b * 0x9E3779B97F4A7C15UL));
    }

    static ulong Finalise(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

using Ongko.Tensors;

namespace Ongko.Data;

/// <summary>
/// Anything that yields batches for training or evaluation: <see cref="DataLoader"/> (image files or decoded
/// images with the preprocessing pipeline) or <see cref="ArrayBatchSource"/> (ready float arrays).
/// An epoch's order depends only on the epoch number (and the source's seed), so a resumed run sees the same data.
/// </summary>
public interface IBatchSource
{
    /// <summary>Samples per epoch.</summary>
    int Count { get; }
    /// <summary>Batches per epoch.</summary>
    int BatchCount { get; }
    /// <summary>Number of classes (width of mixup targets; labels are 0..ClassCount-1, or -1 when unknown).</summary>
    int ClassCount { get; }
    /// <summary>One sample's shape [Channels, Height, Width].</summary>
    int[] SampleShape { get; }
    /// <summary>Samples skipped so far because they could not be read.</summary>
    int SkippedCount => 0;
    /// <summary>The batches of one epoch; each batch is valid until the next is requested.</summary>
    IEnumerable<Batch> Epoch(int epoch);
}

/// <summary>
/// Batches from images already in memory: <c>images</c> holds <c>labels.Length</c> samples of <c>sampleShape</c>
/// floats each, one after another (NCHW). Shuffled per epoch from (seed, epoch) when asked. The arrays are kept,
/// not copied; two batch buffers are reused.
/// </summary>
public sealed class ArrayBatchSource : IBatchSource
{
    readonly float[] images;
    readonly int[] labels;
    readonly bool shuffle;
    readonly ulong seed;
    readonly int sampleSize;

    /// <param name="images">[count, channels, height, width] flattened.</param>
    /// <param name="labels">[count] classes 0..classCount-1 (or -1 for unknown).</param>
    /// <param name="sampleShape">[channels, height, width].</param>
    public ArrayBatchSource(float[] images, int[] labels, int[] sampleShape, int batchSize, bool shuffle = false, ulong seed = 0, int classCount = 10)
    {
        if (sampleShape.Length != 3 || sampleShape.Any(d => d < 1)) throw new ArgumentException("sampleShape must be [channels, height, width], all >= 1", nameof(sampleShape));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), "batch size must be at least 1");
        sampleSize = sampleShape[0] * sampleShape[1] * sampleShape[2];
        if (images.Length != (long)labels.Length * sampleSize)
            throw new ArgumentException($"{images.Length} image values for {labels.Length} labels of {sampleSize} values each", nameof(images));
        if (labels.Any(label => label < -1 || label >= classCount))
            throw new ArgumentException($"labels must be in 0..{classCount - 1} (or -1)", nameof(labels));
        (this.images, this.labels, this.shuffle, this.seed) = (images, labels, shuffle, seed);
        (SampleShape, BatchSize, ClassCount) = (sampleShape.ToArray(), batchSize, classCount);
    }

    public int Count => labels.Length;
    public int BatchSize { get; }
    public int BatchCount => (labels.Length + BatchSize - 1) / BatchSize;
    public int ClassCount { get; }
    public int[] SampleShape { get; }

    public IEnumerable<Batch> Epoch(int epoch)
    {
        var order = new int[labels.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        if (shuffle) new Rng(DataLoader.Mix(seed, epoch, 0, 0x5348554646UL)).Shuffle(order.AsSpan());
        Batch[] buffers = [NewBatch(), NewBatch()];
        for (int b = 0; b < BatchCount; b++)
        {
            var batch = buffers[b & 1];
            int start = b * BatchSize, count = Math.Min(BatchSize, order.Length - start);
            batch.SetCount(count, SampleShape[0], SampleShape[1], SampleShape[2], ClassCount);
            for (int k = 0; k < count; k++)
            {
                int index = order[start + k];
                images.AsSpan(index * sampleSize, sampleSize).CopyTo(batch.Images.Data.AsSpan(k * sampleSize, sampleSize));
                batch.Labels[k] = labels[index];
                batch.SampleIndices[k] = index;
            }
            batch.Index = b;
            batch.SoftTargets = null;
            yield return batch;
        }
    }

    Batch NewBatch() => new(BatchSize, SampleShape[0], SampleShape[1], SampleShape[2], ClassCount, mixes: false);
}

using Ongko.Data;
using Ongko.Models;
using Ongko.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Ongko.Training;

/// <summary>Mean loss and the confusion matrix of a model over a loader's images (evaluation mode, no updates).</summary>
public static class Evaluation
{
    /// <summary>
    /// Images per forward pass when the caller names no limit. Every layer keeps its output buffers at the largest
    /// batch it has seen, so a 512-image validation batch would leave numta28-best's activations at four times
    /// their 128-image training size for the rest of the run (+175 MB); forwarding in slices of this many keeps them.
    /// </summary>
    public const int DefaultForwardBatch = 128;

    /// <param name="onBatch">Sees each batch with its class probabilities [Count, classes] (for predictions files).</param>
    /// <param name="forwardBatch">At most this many images per forward pass (a loader batch is split into slices);
    /// each image's logits do not depend on the others in evaluation mode, so only the memory changes.</param>
    public static (double Loss, ConfusionMatrix Matrix) Run(Sequential model, IBatchSource loader, int classCount,
        Action<Batch, ReadOnlySpan<float>>? onBatch = null, CancellationToken cancel = default, int forwardBatch = DefaultForwardBatch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(forwardBatch, 1);
        var loss = new CrossEntropyLoss();
        var matrix = new ConfusionMatrix(classCount);
        var slices = new SlicedForward(model, forwardBatch);
        double lossSum = 0;
        long labelled = 0;
        foreach (var batch in loader.Epoch(0))
        {
            cancel.ThrowIfCancellationRequested();
            var logits = slices.ForwardLogits(batch.Images);
            bool hasLabels = batch.Labels.All(label => label >= 0);
            if (hasLabels)
            {
                lossSum += loss.Forward(logits, batch.Labels) * (double)batch.Count;
                labelled += batch.Count;
            }
            else loss.Forward(logits, new int[batch.Count]);  // only for the probabilities
            var probabilities = loss.Probabilities.Span;
            if (hasLabels)
                for (int n = 0; n < batch.Count; n++)
                    matrix.Add(batch.Labels[n], TensorPrimitives.IndexOfMax(probabilities.Slice(n * classCount, classCount)));
            onBatch?.Invoke(batch, probabilities);
        }
        return (labelled == 0 ? double.NaN : lossSum / labelled, matrix);
    }
}

/// <summary>
/// Evaluation-mode logits of a batch computed <c>forwardBatch</c> images at a time, gathered into one [N, classes]
/// tensor, so the layers' buffers never grow beyond <c>forwardBatch</c> images. A batch that fits is forwarded as it is.
/// </summary>
public sealed class SlicedForward(Sequential model, int forwardBatch)
{
    Tensor? slice, gathered;

    /// <summary>images: [N, C, H, W] -> logits [N, classes] (valid until the next call).</summary>
    public Tensor ForwardLogits(Tensor images)
    {
        int count = images[0];
        if (count <= forwardBatch) return model.ForwardLogits(images, training: false);
        int sampleSize = images.Length / count;
        Span<int> shape = stackalloc int[images.Rank];
        images.Shape.CopyTo(shape);
        Tensor? all = null;
        for (int start = 0; start < count; start += forwardBatch)
        {
            int size = Math.Min(forwardBatch, count - start);
            shape[0] = size;
            var input = Tensor.Reuse(ref slice, shape);
            images.Span.Slice(start * sampleSize, size * sampleSize).CopyTo(input.Span);
            var logits = model.ForwardLogits(input, training: false);
            int classes = logits[1];
            all ??= Tensor.Reuse(ref gathered, [count, classes]);
            logits.Span.CopyTo(all.Span.Slice(start * classes, size * classes));
        }
        return all!;
    }
}

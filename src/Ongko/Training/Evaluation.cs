using Ongko.Data;
using Ongko.Models;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Ongko.Training;

/// <summary>Mean loss and the confusion matrix of a model over a loader's images (evaluation mode, no updates).</summary>
public static class Evaluation
{
    /// <param name="onBatch">Sees each batch with its class probabilities [Count, classes] (for predictions files).</param>
    public static (double Loss, ConfusionMatrix Matrix) Run(Sequential model, IBatchSource loader, int classCount,
        Action<Batch, ReadOnlySpan<float>>? onBatch = null, CancellationToken cancel = default)
    {
        var loss = new CrossEntropyLoss();
        var matrix = new ConfusionMatrix(classCount);
        double lossSum = 0;
        long labelled = 0;
        foreach (var batch in loader.Epoch(0))
        {
            cancel.ThrowIfCancellationRequested();
            var logits = model.ForwardLogits(batch.Images, training: false);
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

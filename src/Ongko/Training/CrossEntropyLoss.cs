using Ongko.Layers;
using Ongko.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Ongko.Training;

/// <summary>
/// Cross-entropy of softmax(logits) against hard labels or soft target rows (mixup), averaged over
/// the batch. Uses a stable log-softmax (subtract the row max) and the fused gradient
/// δlogits = (softmax(logits)·Σtarget − target) / N, which never forms log(0) (Σtarget is 1 for
/// labels, mixup and label smoothing, but the loss stays exact for any non-negative weights).
/// </summary>
public sealed class CrossEntropyLoss
{
    Tensor? probabilities, δlogits;
    float[] targetRows = [], targetSums = [];
    int batch, classes;

    /// <summary>PyTorch's label_smoothing ε: each target row becomes (1 − ε)·t + ε/C.</summary>
    public float LabelSmoothing
    {
        get => labelSmoothing;
        set => labelSmoothing = value is >= 0 and <= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), "label smoothing must be in [0, 1]");
    }
    float labelSmoothing;

    /// <summary>
    /// Per-sample weights w (length N) for the following Forward calls, or null for all 1: the loss becomes
    /// Σ w·ℓ / N and each row's gradient w·(p·Σt − t) / N (the target rows are scaled by w). Set per batch.
    /// </summary>
    public float[]? SampleWeights { get; set; }

    /// <summary>Softmax of the last Forward's logits, [N, C].</summary>
    public Tensor Probabilities => probabilities ?? throw new InvalidOperationException("CrossEntropyLoss: no Forward yet");

    public float Forward(Tensor logits, ReadOnlySpan<int> labels)
    {
        Prepare(logits);
        if (labels.Length != batch) throw new ShapeException($"CrossEntropyLoss: {labels.Length} labels for a batch of {batch}");
        var targets = targetRows.AsSpan(0, batch * classes);
        targets.Clear();
        for (int n = 0; n < batch; n++)
        {
            if ((uint)labels[n] >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(labels), $"label {labels[n]} is outside 0..{classes - 1}");
            targets[n * classes + labels[n]] = 1;
        }
        return Compute(logits);
    }

    public float Forward(Tensor logits, Tensor targets)
    {
        Prepare(logits);
        if (!targets.SameShape(logits)) throw new ShapeException($"CrossEntropyLoss: targets {Tensor.ShapeString(targets.Shape)} do not match logits {Tensor.ShapeString(logits.Shape)}");
        targets.Span.CopyTo(targetRows);
        return Compute(logits);
    }

    /// <summary>δ of the batch-mean loss with respect to the logits.</summary>
    public Tensor Backward()
    {
        var p = Probabilities;
        var δ = Tensor.Reuse(ref δlogits, p.Shape);
        for (int n = 0; n < batch; n++)
        {
            var row = δ.Span.Slice(n * classes, classes);
            TensorPrimitives.Multiply(p.Span.Slice(n * classes, classes), targetSums[n], row);
            TensorPrimitives.Subtract(row, targetRows.AsSpan(n * classes, classes), row);
        }
        TensorPrimitives.Multiply(δ.Span, 1f / batch, δ.Span);
        return δ;
    }

    void Prepare(Tensor logits)
    {
        if (logits.Rank != 2) throw new ShapeException($"CrossEntropyLoss: logits must be [N, C], got {Tensor.ShapeString(logits.Shape)}");
        (batch, classes) = (logits[0], logits[1]);
        if (targetRows.Length < logits.Length) targetRows = new float[logits.Length];
        if (targetSums.Length < batch) targetSums = new float[batch];
        Tensor.Reuse(ref probabilities, logits.Shape);
    }

    float Compute(Tensor logits)
    {
        if (labelSmoothing > 0)
            for (int n = 0; n < batch; n++)
            {
                var row = targetRows.AsSpan(n * classes, classes);
                float uniform = labelSmoothing / classes;
                TensorPrimitives.Multiply(row, 1 - labelSmoothing, row);
                TensorPrimitives.Add(row, uniform, row);
            }
        if (SampleWeights is { } weights)
        {
            if (weights.Length < batch) throw new ShapeException($"CrossEntropyLoss: {weights.Length} sample weights for a batch of {batch}");
            for (int n = 0; n < batch; n++)
            {
                var row = targetRows.AsSpan(n * classes, classes);
                TensorPrimitives.Multiply(row, weights[n], row);
            }
        }
        double total = 0;
        for (int n = 0; n < batch; n++)
        {
            var row = logits.Span.Slice(n * classes, classes);
            var target = targetRows.AsSpan(n * classes, classes);
            targetSums[n] = TensorPrimitives.Sum(target);
            float max = TensorPrimitives.Max(row);
            double sumExp = 0;
            for (int c = 0; c < classes; c++) sumExp += Math.Exp(row[c] - max);
            double logSumExp = max + Math.Log(sumExp);
            var p = probabilities!.Span.Slice(n * classes, classes);
            for (int c = 0; c < classes; c++)
            {
                double logProbability = row[c] - logSumExp;
                p[c] = (float)Math.Exp(logProbability);
                if (target[c] != 0) total -= target[c] * logProbability;
            }
        }
        return (float)(total / batch);
    }
}

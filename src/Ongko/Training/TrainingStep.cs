using Ongko.Models;
using Ongko.Tensors;

namespace Ongko.Training;

/// <summary>One optimisation step: forward to the logits, fused softmax cross-entropy, backward, update.</summary>
public static class TrainingStep
{
    /// <summary>Runs a step on hard labels and returns the batch's mean loss.</summary>
    public static float Run(Sequential model, CrossEntropyLoss loss, Optimizer optimizer, Tensor images, ReadOnlySpan<int> labels)
    {
        var logits = model.ForwardLogits(images, training: true);
        float value = loss.Forward(logits, labels);
        model.BackwardParametersFromLogits(loss.Backward());
        optimizer.Step();
        return value;
    }

    /// <summary>Runs a step on soft target rows (mixup) and returns the batch's mean loss.</summary>
    public static float Run(Sequential model, CrossEntropyLoss loss, Optimizer optimizer, Tensor images, Tensor targets)
    {
        var logits = model.ForwardLogits(images, training: true);
        float value = loss.Forward(logits, targets);
        model.BackwardParametersFromLogits(loss.Backward());
        optimizer.Step();
        return value;
    }
}

using Ongko.Tensors;

namespace Ongko.Models;

/// <summary>
/// A step of a frozen layer in a training plan (<see cref="ExecutionPlan.ForTraining(IReadOnlyList{Layers.Layer}, int)"/>):
/// it always runs as in evaluation — BatchNorm with its running statistics (folded, and not updated), Dropout off — and
/// reports no parameters, so the training backward pass never reaches it and the optimizer's update skips its weights.
/// </summary>
public sealed class FrozenStep(PlanStep step) : PlanStep(step.FirstLayer, step.LayerCount)
{
    /// <summary>The evaluation step it runs.</summary>
    public PlanStep Step { get; } = step;
    public override bool HasParameters => false;
    public override Tensor Forward(Tensor input, bool training) => Step.Forward(input, training: false);

    public override Tensor? Backward(Tensor δoutput, bool inputGradient) =>
        throw new InvalidOperationException($"{this}: a frozen layer has no backward pass; the training backward pass stops after it");

    public override string ToString() => $"frozen({Step})";
}

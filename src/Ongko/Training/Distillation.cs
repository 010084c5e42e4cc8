using Ongko.Layers;
using Ongko.Models;
using Ongko.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Ongko.Training;

/// <summary>
/// Knowledge distillation: trained teachers look at the very images a step trains on (the same augmented, possibly
/// mixed view) and their averaged probabilities become part of the targets:
/// <c>t = (1 − α)·y + α·q</c>, with <c>y</c> the label's one-hot row (or mixup's soft row) and
/// <c>q = softmax(log p̄ / T)</c> the teachers' mean probabilities <c>p̄</c> softened by the temperature <c>T</c>
/// (T = 1 keeps them as they are). Label smoothing, when set, is applied by the loss on top of <c>t</c>.
/// The teachers run in evaluation mode (BatchNorm's running statistics, no Dropout) and are never updated.
/// </summary>
public sealed class Distillation
{
    readonly Sequential[] teachers;
    readonly InferencePlan?[] plans;
    readonly int classes;
    float[] mean = [];
    Tensor? targets;

    /// <param name="teachers">Built models with the student's input shape and class count.</param>
    /// <param name="weight">α in [0, 1]: the teachers' share of each target row.</param>
    /// <param name="temperature">T &gt; 0; above 1 softens the teachers' probabilities.</param>
    public Distillation(IReadOnlyList<Sequential> teachers, float weight, float temperature)
    {
        if (teachers.Count == 0) throw new ArgumentException("distillation needs at least one teacher", nameof(teachers));
        if (!(weight is >= 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(weight), $"the distillation weight must be in [0, 1], got {weight}");
        if (!(temperature > 0 && float.IsFinite(temperature))) throw new ArgumentOutOfRangeException(nameof(temperature), $"the temperature must be > 0, got {temperature}");
        if (teachers.Any(t => !t.IsBuilt)) throw new ArgumentException("every teacher must be built", nameof(teachers));
        classes = teachers[0].OutputShape is [int c] ? c : throw new ArgumentException($"a teacher puts out {Tensor.ShapeString(teachers[0].OutputShape)} per image, not one score per class");
        if (teachers.Any(t => t.OutputShape is not [int other] || other != classes))
            throw new ArgumentException("the teachers put out different numbers of classes", nameof(teachers));
        if (teachers.Any(t => !t.InputShape.SequenceEqual(teachers[0].InputShape)))
            throw new ArgumentException("the teachers take different input shapes", nameof(teachers));
        this.teachers = [.. teachers];
        plans = [.. teachers.Select(InferencePlan.TryCompile)];
        (Weight, Temperature) = (weight, temperature);
    }

    public float Weight { get; }
    public float Temperature { get; }
    public int ClassCount => classes;
    /// <summary>One image's input shape [C, H, W] as the first teacher expects it.</summary>
    public int[] InputShape => teachers[0].InputShape;

    /// <summary>
    /// The target rows [N, classes] for <paramref name="images"/> [N, C, H, W]: the teachers' softened mean mixed with
    /// <paramref name="softTargets"/> [N, classes] when given (a mixed batch), else with the one-hot rows of
    /// <paramref name="labels"/>. Reused by the next call.
    /// </summary>
    public Tensor Targets(Tensor images, ReadOnlySpan<int> labels, Tensor? softTargets)
    {
        int count = images[0];
        if (softTargets is null && labels.Length < count) throw new ShapeException($"distillation: {labels.Length} labels for {count} images");
        var result = Tensor.Reuse(ref targets, [count, classes]);
        var q = result.Span;
        TeacherMean(images, q);
        for (int n = 0; n < count; n++)
        {
            var row = q.Slice(n * classes, classes);
            Soften(row, Temperature);
            TensorPrimitives.Multiply(row, Weight, row);
            if (softTargets is not null)
                TensorPrimitives.MultiplyAdd(softTargets.Span.Slice(n * classes, classes), 1 - Weight, row, row);
            else
            {
                if ((uint)labels[n] >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(labels), $"label {labels[n]} is outside 0..{classes - 1}");
                row[labels[n]] += 1 - Weight;
            }
        }
        return result;
    }

    /// <summary>The teachers' mean probabilities for <paramref name="images"/> into <paramref name="destination"/> [N, classes].</summary>
    public void TeacherMean(Tensor images, Span<float> destination)
    {
        int count = images[0], length = count * classes;
        if (mean.Length < length) mean = new float[length];
        destination[..length].Clear();
        for (int t = 0; t < teachers.Length; t++)
        {
            var output = (plans[t] is { } plan ? plan.Forward(images) : teachers[t].Forward(images, training: false)).Span;
            bool probabilities = teachers[t].EndsWithSoftmax;   // the plan's output too: probabilities after a final Softmax, else logits
            for (int n = 0; n < count; n++)
            {
                var row = mean.AsSpan(n * classes, classes);
                if (probabilities) output.Slice(n * classes, classes).CopyTo(row);
                else TensorPrimitives.SoftMax(output.Slice(n * classes, classes), row);
            }
            TensorPrimitives.Add(destination[..length], mean.AsSpan(0, length), destination[..length]);
        }
        TensorPrimitives.Multiply(destination[..length], 1f / teachers.Length, destination[..length]);
    }

    /// <summary>p ← softmax(log p / T) in place, i.e. p^(1/T) renormalised (T = 1 leaves p as it is).</summary>
    static void Soften(Span<float> p, float temperature)
    {
        if (temperature == 1) return;
        float max = TensorPrimitives.Max(p);
        if (!(max > 0)) return;
        for (int c = 0; c < p.Length; c++) p[c] = MathF.Pow(p[c] / max, 1 / temperature);
        TensorPrimitives.Multiply(p, 1 / TensorPrimitives.Sum(p), p);
    }
}

using System.Numerics;
using Ongko.Tensors;

namespace Ongko.Layers;

/// <summary>
/// Inverted dropout: in training each value is kept with probability 1 − p and scaled by 1/(1 − p), so
/// evaluation is the identity. <see cref="Dropout2D"/> drops whole channels of [N, C, H, W] instead.
/// The masks come from the layer's own seeded generator, whose state goes into checkpoints so a resumed
/// run draws the same masks.
/// </summary>
public class Dropout : Layer
{
    readonly float probability;
    Rng rng = new(0);
    Tensor? output, δinput;
    float[] mask = [];   // per unit of dropping: the scale applied (0 or 1/(1-p))
    bool lastTraining;
    int unitSize = 1;

    public Dropout(float probability)
    {
        if (probability is < 0 or >= 1) throw new ArgumentException($"{GetType().Name}({probability}): p must be in [0, 1)");
        this.probability = probability;
    }

    public override string Kind => "Dropout";
    public override string Arguments => probability.ToString("R", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>How many consecutive values share one keep/drop decision (1, or H·W for Dropout2D).</summary>
    protected virtual int UnitSize(int[] sampleShape) => 1;

    public override int[] Build(int[] sampleShape, Rng rng)
    {
        this.rng = rng.Fork();
        unitSize = UnitSize(sampleShape);
        return sampleShape;
    }

    public override Tensor Forward(Tensor input, bool training)
    {
        lastTraining = training && probability > 0;
        if (!lastTraining) return input;
        var output = Tensor.Reuse(ref this.output, input.Shape);
        int units = input.Length / unitSize;
        if (mask.Length < units) mask = new float[units];
        float scale = 1 / (1 - probability);
        // The same draws as one NextFloat per unit, then kept (scale) where a draw is at least p, dropped (0) where not.
        var draws = mask.AsSpan(0, units);
        rng.NextFloats(draws);
        Threshold(draws, probability, scale);
        Apply(input.Span, output.Span);
        return output;
    }

    public override Tensor Backward(Tensor δoutput)
    {
        if (!lastTraining) return δoutput;
        var δinput = InputGradient(ref this.δinput, δoutput, δoutput.Shape);
        Apply(δoutput.Span, δinput.Span);
        return δinput;
    }

    /// <summary>values[u] = values[u] ≥ p ? scale : 0.</summary>
    static void Threshold(Span<float> values, float probability, float scale)
    {
        int u = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var (p, kept) = (new Vector<float>(probability), new Vector<float>(scale));
            for (; u <= values.Length - Vector<float>.Count; u += Vector<float>.Count)
            {
                var slice = values.Slice(u, Vector<float>.Count);
                Vector.ConditionalSelect(Vector.GreaterThanOrEqual(new Vector<float>(slice), p), kept,
                                         Vector<float>.Zero).CopyTo(slice);
            }
        }
        for (; u < values.Length; u++) values[u] = values[u] >= probability ? scale : 0;
    }

    void Apply(ReadOnlySpan<float> source, Span<float> destination)
    {
        if (unitSize == 1)
        {
            // One decision per value: one vectorized multiply by the mask (a call per value cost ~8 ns each).
            System.Numerics.Tensors.TensorPrimitives.Multiply(source, mask.AsSpan(0, source.Length), destination);
            return;
        }
        for (int u = 0, offset = 0; offset < source.Length; u++, offset += unitSize)
            System.Numerics.Tensors.TensorPrimitives.Multiply(source.Slice(offset, unitSize), mask[u], destination.Slice(offset, unitSize));
    }

    public override string? SaveState() => rng.SaveState();
    public override void LoadState(string state) => rng = Rng.FromState(state);
}

/// <summary>Dropout of whole feature maps of [N, C, H, W] (PyTorch's Dropout2d).</summary>
public sealed class Dropout2D(float probability) : Dropout(probability)
{
    public override string Kind => "Dropout2D";

    protected override int UnitSize(int[] sampleShape)
    {
        if (sampleShape.Length != 3) throw ShapeError("input sample shape (Dropout2D follows a convolution)", [-1, -1, -1], sampleShape);
        return sampleShape[1] * sampleShape[2];
    }
}

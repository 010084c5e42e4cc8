using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Ongko.Tensors;

namespace Ongko.Layers;

/// <summary>y = max(x, 0); δx = δy where y > 0.</summary>
public sealed class ReLU : Layer
{
    Tensor? output, δinput;

    public override string Kind => "ReLU";
    public override string Arguments => "";
    public override int[] Build(int[] sampleShape, Rng rng) => sampleShape;

    public override Tensor Forward(Tensor input, bool training)
    {
        var output = Tensor.Reuse(ref this.output, input.Shape);
        TensorPrimitives.Max(input.Span, 0f, output.Span);
        return output;
    }

    public override Tensor Backward(Tensor δoutput)
    {
        var y = output ?? throw new InvalidOperationException("ReLU: Backward before Forward");
        if (!δoutput.SameShape(y)) throw ShapeError("δoutput", y.Shape, δoutput.Shape);
        var δinput = Tensor.Reuse(ref this.δinput, y.Shape);
        Mask(y.Span, δoutput.Span, δinput.Span);
        return δinput;
    }

    /// <summary>δx[i] = y[i] > 0 ? δy[i] : 0, a vector at a time.</summary>
    internal static void Mask(ReadOnlySpan<float> y, ReadOnlySpan<float> δy, Span<float> δx)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i <= y.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var mask = Vector.GreaterThan(new Vector<float>(y[i..]), Vector<float>.Zero);
                Vector.ConditionalSelect(mask, new Vector<float>(δy[i..]), Vector<float>.Zero).CopyTo(δx[i..]);
            }
        for (; i < y.Length; i++) δx[i] = y[i] > 0 ? δy[i] : 0;
    }
}

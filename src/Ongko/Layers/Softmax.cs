using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Ongko.Tensors;

namespace Ongko.Layers;

/// <summary>
/// Row-wise softmax over [N, C]. In training the model hands the logits to the fused
/// <see cref="Training.CrossEntropyLoss"/> instead; this layer's own backward is the Jacobian product
/// δx = y ⊙ (δy − Σ δy·y), kept for models that use it elsewhere.
/// </summary>
public sealed class Softmax : Layer
{
    Tensor? output, δinput;

    public override string Kind => "Softmax";
    public override string Arguments => "";

    public override int[] Build(int[] sampleShape, Rng rng)
    {
        if (sampleShape.Length != 1) throw ShapeError("input sample shape", [-1], sampleShape);
        return sampleShape;
    }

    public override Tensor Forward(Tensor input, bool training)
    {
        if (input.Rank != 2) throw ShapeError("input", [-1, -1], input.Shape);
        var output = Tensor.Reuse(ref this.output, input.Shape);
        int classes = input[1];
        for (int n = 0; n < input[0]; n++)
            TensorPrimitives.SoftMax(input.Span.Slice(n * classes, classes), output.Span.Slice(n * classes, classes));
        return output;
    }

    public override Tensor Backward(Tensor δoutput)
    {
        var y = output ?? throw new InvalidOperationException("Softmax: Backward before Forward");
        if (!δoutput.SameShape(y)) throw ShapeError("δoutput", y.Shape, δoutput.Shape);
        var δinput = InputGradient(ref this.δinput, δoutput, y.Shape);
        int classes = y[1];
        for (int n = 0; n < y[0]; n++)
        {
            var yRow = y.Span.Slice(n * classes, classes);
            var δyRow = δoutput.Span.Slice(n * classes, classes);
            var δxRow = δinput.Span.Slice(n * classes, classes);
            float dot = TensorPrimitives.Dot(δyRow, yRow);
            TensorPrimitives.Subtract(δyRow, dot, δxRow);
            TensorPrimitives.Multiply(δxRow, yRow, δxRow);
        }
        return δinput;
    }
}

using Ongko.Tensors;

namespace Ongko.Layers;

/// <summary>[N, C, H, W] → [N, C·H·W]; a view over the same buffer, no copy.</summary>
public sealed class Flatten : Layer
{
    int[] sampleShape = [], δinputShape = [];
    Tensor? output, δinput;

    public override string Kind => "Flatten";
    public override string Arguments => "";

    public override int[] Build(int[] sampleShape, Rng rng)
    {
        this.sampleShape = sampleShape;
        return [Tensor.Product(sampleShape)];
    }

    public override Tensor Forward(Tensor input, bool training)
    {
        int batch = input[0], features = Tensor.Product(sampleShape);
        if (input.Length != batch * features) throw ShapeError("input", [batch, .. sampleShape], input.Shape);
        output = View(output, input.Data, [batch, features]);
        return output;
    }

    public override Tensor Backward(Tensor δoutput)
    {
        // A spread of an array into a collection expression allocates; fill a kept shape buffer instead.
        if (δinputShape.Length != sampleShape.Length + 1) δinputShape = new int[sampleShape.Length + 1];
        δinputShape[0] = δoutput[0];
        sampleShape.CopyTo(δinputShape, 1);
        δinput = View(δinput, δoutput.Data, δinputShape);
        return δinput;
    }

    /// <summary>Reuses the view object while the buffer stays the same (no allocation per step).</summary>
    static Tensor View(Tensor? view, float[] data, ReadOnlySpan<int> shape)
    {
        if (view is not null && ReferenceEquals(view.Data, data)) { view.Resize(shape); return view; }
        return new Tensor(data, shape.ToArray());
    }
}

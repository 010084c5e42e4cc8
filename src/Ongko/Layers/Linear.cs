using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Ongko.Kernels;
using Ongko.Tensors;

namespace Ongko.Layers;

/// <summary>
/// Fully connected: y[N, out] = x[N, in] · Wᵀ + b, W stored [out, in] as in PyTorch.
/// The input size is taken from the sample shape at Build (the reference's lazy initialisation).
/// </summary>
public sealed class Linear : Layer, IActivationProducer, IFoldsBatchNorm
{
    readonly int outFeatures;
    readonly bool hasBias;
    int inFeatures;
    Parameter? weight, bias;
    Tensor? input, output, δinput, δmasked;

    public Linear(int outFeatures, bool bias = true)
    {
        if (outFeatures < 1) throw new ArgumentException($"Linear({outFeatures}): output size must be >= 1");
        (this.outFeatures, hasBias) = (outFeatures, bias);
    }

    public override string Kind => "Linear";
    public override string Arguments => hasBias ? $"{outFeatures}" : $"{outFeatures}, false";
    public Parameter Weight => weight ?? throw new InvalidOperationException($"{this} is not built yet");
    public Parameter? Bias => bias;
    public override IReadOnlyList<Parameter> Parameters => weight is null ? [] : bias is null ? [weight] : [weight, bias];

    public override int[] Build(int[] sampleShape, Rng rng)
    {
        if (sampleShape.Length != 1) throw ShapeError("input sample shape (add Flatten before Linear)", [-1], sampleShape);
        inFeatures = sampleShape[0];
        weight = new Parameter("weight", new Tensor(outFeatures, inFeatures));
        Initialization.HeNormal(weight.Value.Span, inFeatures, rng);
        bias = hasBias ? new Parameter("bias", new Tensor(outFeatures)) : null;
        return [outFeatures];
    }

    public override Tensor Forward(Tensor input, bool training) => Forward(input, training, Activation.None);

    /// <summary>activation(x · Wᵀ + b), the activation applied with the bias, row by row.</summary>
    public Tensor Forward(Tensor input, bool training, Activation activation)
    {
        var output = Multiply(input);
        for (int n = 0; n < input[0]; n++)
        {
            var row = output.Span.Slice(n * outFeatures, outFeatures);
            if (bias is not null) TensorPrimitives.Add(row, bias.Value.Span, row);
            Rectifier.Apply(activation, row);
        }
        return output;
    }

    /// <summary>activation(scale ⊙ (x · Wᵀ) + shift) per feature, in evaluation: a following BatchNorm1D folded in. No Backward follows it.</summary>
    public Tensor ForwardScaled(Tensor input, float[] scale, float[] shift, Activation activation)
    {
        var output = Multiply(input);
        Epilogue.ScaleShiftRows(output.Span, scale, shift, input[0], activation);
        return output;
    }

    /// <summary>output[N, out] = x[N, in] · Wᵀ, remembering x for the backward pass.</summary>
    Tensor Multiply(Tensor input)
    {
        if (input.Rank != 2 || input[1] != inFeatures) throw ShapeError("input", [-1, inFeatures], input.Shape);
        this.input = input;
        int batch = input[0];
        var output = Tensor.Reuse(ref this.output, [batch, outFeatures]);
        Gemm.Multiply(false, true, batch, outFeatures, inFeatures, input.Span, inFeatures, Weight.Value.Span, inFeatures,
                      output.Span, outFeatures, accumulate: false, parallel: true);
        return output;
    }

    public override Tensor Backward(Tensor δoutput) => Backward(δoutput, Activation.None, inputGradient: true)!;

    public override void BackwardParametersOnly(Tensor δoutput) => Backward(δoutput, Activation.None, inputGradient: false);

    /// <summary>Backward of activation(x · Wᵀ + b): δy masked by the activation's derivative first.</summary>
    public Tensor? Backward(Tensor δoutput, Activation activation, bool inputGradient)
    {
        var x = input ?? throw new InvalidOperationException($"{this}: Backward before Forward");
        int batch = x[0];
        if (δoutput.Rank != 2 || δoutput[0] != batch || δoutput[1] != outFeatures) throw ShapeError("δoutput", [batch, outFeatures], δoutput.Shape);
        if (activation == Activation.ReLU)
        {
            var masked = Tensor.Reuse(ref δmasked, δoutput.Shape);
            Rectifier.Backward(output!.Span, δoutput.Span, masked.Span);
            δoutput = masked;
        }
        Tensor? δinput = null;
        if (inputGradient)
        {
            δinput = InputGradient(ref this.δinput, δoutput, x.Shape);
            // δx[N, in] = δy[N, out] · W[out, in]
            Gemm.Multiply(false, false, batch, inFeatures, outFeatures, δoutput.Span, outFeatures, Weight.Value.Span, inFeatures,
                          δinput.Span, inFeatures, accumulate: false, parallel: true);
        }
        // δW[out, in] = δy[N, out]ᵀ · x[N, in]
        Gemm.Multiply(true, false, outFeatures, inFeatures, batch, δoutput.Span, outFeatures, x.Span, inFeatures,
                      Weight.Gradient.Span, inFeatures, accumulate: false, parallel: true);
        if (bias is not null)
        {
            var δbias = bias.Gradient.Span;
            δbias.Clear();
            for (int n = 0; n < batch; n++) TensorPrimitives.Add(δbias, δoutput.Span.Slice(n * outFeatures, outFeatures), δbias);
        }
        return δinput;
    }
}

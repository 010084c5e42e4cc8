using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Ongko.Kernels;

/// <summary>How a convolution is computed; the execution plan picks one per layer.</summary>
public enum ConvolutionAlgorithm
{
    /// <summary>im2col + GEMM (<see cref="Convolution"/>): any geometry, and the training path.</summary>
    Im2ColGemm,
    /// <summary>Winograd F(2x2, 3x3) (<see cref="Winograd"/>): 3x3 stride-1 layers.</summary>
    Winograd,
    /// <summary>Direct loops over shifted rows (<see cref="DirectConvolution"/>): stride-1 layers with few input channels.</summary>
    Direct,
}

/// <summary>
/// 2-D convolution of a group of images as im2col + one GEMM: Y[OC, G·OH·OW] = W[OC, C·k·k] · col[C·k·k, G·OH·OW],
/// the G images' columns side by side (fewer ragged 32-column panels, one packing of W per group), then bias and
/// activation in one pass. Backward recomputes col instead of keeping it. <see cref="ConvolutionNaive"/> is the twin.
/// The caller splits a batch into groups over the workers and sums their partial parameter gradients.
/// </summary>
public static class Convolution
{
    /// <summary>
    /// y = activation(W · col(x) + b) for <paramref name="count"/> images, or activation(scale ⊙ (W · col(x)) + b) per
    /// output channel when <paramref name="scale"/> is given (a batch normalisation folded in, evaluation only).
    /// </summary>
    /// <param name="x">[count, C, H, W]</param> <param name="weight">[OC, C·k·k]</param> <param name="bias">[OC] or empty</param>
    /// <param name="scale">[OC] or empty</param>
    /// <param name="parallel">split the GEMM over the cores (one image at a time, fewer images than cores)</param>
    /// <param name="col">work: [C·k·k, count·OH·OW]</param> <param name="yGroup">work: [OC, count·OH·OW] (count > 1 only)</param>
    /// <param name="y">[count, OC, OH, OW]</param>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<float> scale,
        int count, int outChannels, in ConvGeometry g, Activation activation, bool parallel,
        Span<float> col, Span<float> yGroup, Span<float> y)
    {
        int outputPixels = g.OutputPixels, imageSize = g.Channels * g.InputPixels, width = count * outputPixels;
        for (int i = 0; i < count; i++)
            Im2Col.Forward(x.Slice(i * imageSize, imageSize), col[(i * outputPixels)..], g, width);
        if (count == 1)
            // y[OC, OHW] = W[OC, CKK] · col[CKK, OHW]
            Gemm.Multiply(false, false, outChannels, outputPixels, g.PatchSize, weight, g.PatchSize, col, width,
                          y[..(outChannels * outputPixels)], outputPixels, accumulate: false, parallel);
        else
        {
            // Y[OC, G·OHW] = W · col[CKK, G·OHW], then each image's block of columns goes to its own [OC, OHW].
            Gemm.Multiply(false, false, outChannels, width, g.PatchSize, weight, g.PatchSize, col, width,
                          yGroup, width, accumulate: false, parallel);
            for (int i = 0; i < count; i++)
                for (int oc = 0; oc < outChannels; oc++)
                    yGroup.Slice(oc * width + i * outputPixels, outputPixels).CopyTo(y.Slice((i * outChannels + oc) * outputPixels, outputPixels));
        }
        if (bias.IsEmpty && scale.IsEmpty && activation == Activation.None) return;
        for (int plane = 0; plane < count * outChannels; plane++)
        {
            var yPlane = y.Slice(plane * outputPixels, outputPixels);
            if (!scale.IsEmpty) { Epilogue.ScaleShift(yPlane, scale[plane % outChannels], bias[plane % outChannels], activation); continue; }
            if (!bias.IsEmpty) TensorPrimitives.Add(yPlane, bias[plane % outChannels], yPlane);
            Rectifier.Apply(activation, yPlane);
        }
    }

    /// <summary>
    /// The adjoint of <see cref="Forward"/> for <paramref name="count"/> images: δy masked by the activation's derivative
    /// (from y) as the group is gathered; parameter gradients added to (or, without <paramref name="accumulate"/>,
    /// written into) the caller's partial sums; δx written when given.
    /// </summary>
    /// <param name="δy">[count, OC, OH, OW]</param> <param name="x">[count, C, H, W]</param> <param name="y">[count, OC, OH, OW], the forward output</param>
    /// <param name="weight">[OC, C·k·k]</param>
    /// <param name="col">work: [C·k·k, count·OH·OW]</param> <param name="δyGroup">work: [OC, count·OH·OW] (count > 1 or an activation)</param>
    /// <param name="δcol">work: [C·k·k, count·OH·OW] (with δx only)</param>
    /// <param name="δweight">[OC, C·k·k]</param> <param name="δbias">[OC] in double, or empty (no bias)</param>
    /// <param name="δx">[count, C, H, W], or empty: no input gradient (saves a GEMM and col2im per image)</param>
    public static void Backward(ReadOnlySpan<float> δy, ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> weight,
        int count, int outChannels, in ConvGeometry g, Activation activation, bool accumulate, bool parallel,
        Span<float> col, Span<float> δyGroup, Span<float> δcol, Span<float> δweight, Span<double> δbias, Span<float> δx)
    {
        int outputPixels = g.OutputPixels, patch = g.PatchSize, imageSize = g.Channels * g.InputPixels, width = count * outputPixels;
        for (int i = 0; i < count; i++)
            Im2Col.Forward(x.Slice(i * imageSize, imageSize), col[(i * outputPixels)..], g, width);
        // δY[OC, G·OHW]: the group's output gradients side by side (one image and no activation: δy itself)
        ReadOnlySpan<float> δY;
        bool mask = activation == Activation.ReLU;
        if (count == 1 && !mask) δY = δy[..(outChannels * outputPixels)];
        else
        {
            for (int i = 0; i < count; i++)
                for (int oc = 0; oc < outChannels; oc++)
                {
                    int at = (i * outChannels + oc) * outputPixels;
                    var destination = δyGroup.Slice(oc * width + i * outputPixels, outputPixels);
                    if (mask) Rectifier.Backward(y.Slice(at, outputPixels), δy.Slice(at, outputPixels), destination);
                    else δy.Slice(at, outputPixels).CopyTo(destination);
                }
            δY = δyGroup[..(outChannels * width)];
        }
        // δW[OC, CKK] (+)= δY[OC, G·OHW] · col[CKK, G·OHW]ᵀ
        Gemm.Multiply(false, true, outChannels, patch, width, δY, width, col, width, δweight, patch, accumulate, parallel);
        if (!δbias.IsEmpty)
        {
            if (!accumulate) δbias.Clear();
            for (int i = 0; i < count; i++)
                for (int oc = 0; oc < outChannels; oc++)
                    δbias[oc] += TensorPrimitives.Sum(δY.Slice(oc * width + i * outputPixels, outputPixels));
        }
        if (δx.IsEmpty) return;
        // δcol[CKK, G·OHW] = Wᵀ[CKK, OC] · δY[OC, G·OHW]
        Gemm.Multiply(true, false, patch, width, outChannels, weight, patch, δY, width, δcol, width, accumulate: false, parallel);
        for (int i = 0; i < count; i++)
        {
            var δxImage = δx.Slice(i * imageSize, imageSize);
            δxImage.Clear();
            Im2Col.BackwardAccumulate(δcol[(i * outputPixels)..], δxImage, g, width);
        }
    }
}

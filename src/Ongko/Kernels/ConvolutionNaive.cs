namespace Ongko.Kernels;

/// <summary>
/// Direct-loop convolution over a batch: slow and obviously correct, the twin that the
/// im2col + GEMM path in <see cref="Layers.Conv2D"/> is tested against.
/// </summary>
public static class ConvolutionNaive
{
    /// <param name="input">[N, C, H, W]</param> <param name="weight">[OC, C, k, k]</param>
    /// <param name="bias">[OC] or empty</param> <param name="output">[N, OC, OH, OW]</param>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> output, int batch, int outChannels, in ConvGeometry g)
    {
        int k = g.Kernel;
        for (int n = 0; n < batch; n++)
            for (int oc = 0; oc < outChannels; oc++)
                for (int oy = 0; oy < g.OutputHeight; oy++)
                    for (int ox = 0; ox < g.OutputWidth; ox++)
                    {
                        double sum = bias.IsEmpty ? 0 : bias[oc];
                        for (int c = 0; c < g.Channels; c++)
                            for (int ky = 0; ky < k; ky++)
                                for (int kx = 0; kx < k; kx++)
                                {
                                    int y = oy * g.Stride - g.Padding + ky, x = ox * g.Stride - g.Padding + kx;
                                    if (y < 0 || y >= g.Height || x < 0 || x >= g.Width) continue;
                                    sum += (double)input[((n * g.Channels + c) * g.Height + y) * g.Width + x]
                                         * weight[((oc * g.Channels + c) * k + ky) * k + kx];
                                }
                        output[((n * outChannels + oc) * g.OutputHeight + oy) * g.OutputWidth + ox] = (float)sum;
                    }
    }

    /// <summary>Gradients of the convolution with respect to input, weight and bias (all overwritten).</summary>
    public static void Backward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> δoutput,
        Span<float> δinput, Span<float> δweight, Span<float> δbias, int batch, int outChannels, in ConvGeometry g)
    {
        int k = g.Kernel;
        var δin = new double[δinput.Length];
        var δw = new double[δweight.Length];
        var δb = new double[δbias.Length];
        for (int n = 0; n < batch; n++)
            for (int oc = 0; oc < outChannels; oc++)
                for (int oy = 0; oy < g.OutputHeight; oy++)
                    for (int ox = 0; ox < g.OutputWidth; ox++)
                    {
                        double δ = δoutput[((n * outChannels + oc) * g.OutputHeight + oy) * g.OutputWidth + ox];
                        if (!δbias.IsEmpty) δb[oc] += δ;
                        for (int c = 0; c < g.Channels; c++)
                            for (int ky = 0; ky < k; ky++)
                                for (int kx = 0; kx < k; kx++)
                                {
                                    int y = oy * g.Stride - g.Padding + ky, x = ox * g.Stride - g.Padding + kx;
                                    if (y < 0 || y >= g.Height || x < 0 || x >= g.Width) continue;
                                    int inputIndex = ((n * g.Channels + c) * g.Height + y) * g.Width + x;
                                    int weightIndex = ((oc * g.Channels + c) * k + ky) * k + kx;
                                    δin[inputIndex] += δ * weight[weightIndex];
                                    δw[weightIndex] += δ * input[inputIndex];
                                }
                    }
        for (int i = 0; i < δin.Length; i++) δinput[i] = (float)δin[i];
        for (int i = 0; i < δw.Length; i++) δweight[i] = (float)δw[i];
        for (int i = 0; i < δb.Length; i++) δbias[i] = (float)δb[i];
    }
}

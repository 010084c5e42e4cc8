namespace Ongko.Kernels;

/// <summary>
/// Batch normalisation over planes, an activation and the max pooling after them as one pass per plane, for training: the
/// normalised plane lives only in a small per-worker scratch plane (in cache) that <see cref="MaxPool"/> pools at once, so the
/// full-size output is never written to memory nor read back; backward rebuilds each plane's δ of the normalised output in the
/// scratch plane from the pooled δ and the argmax, instead of a full-size δ written by the pooling and read twice by the batch
/// norm. Every plane goes through the same kernels as the separate layers (<see cref="BatchNormalization.ForwardPlanes"/>,
/// <see cref="BatchNormalization.BackwardPlanes"/>, <see cref="MaxPool"/>), which are the twins: the results are bit for bit theirs.
/// </summary>
public static class BatchNormMaxPool
{
    /// <summary>Channels [firstChannel, lastChannel): statistics (as <see cref="BatchNormalization.ForwardPlanes"/>), then per plane activation(γ·x̂ + β) pooled.</summary>
    /// <param name="x">[N, C, H, W]</param> <param name="γ">[C]</param> <param name="β">[C]</param>
    /// <param name="pool">the pooling over one plane (H, W, window, stride; its Channels is not used)</param>
    /// <param name="runningMean">[C], read in evaluation, updated in training</param> <param name="runningVariance">[C], likewise</param>
    /// <param name="mean">[C]: μ used</param> <param name="inverseStd">[C]: 1/√(σ²+ε) used</param>
    /// <param name="scratch">work: H·W floats</param>
    /// <param name="pooled">[N, C, OH, OW]</param> <param name="argmax">[N, C, OH, OW]: index of each maximum within its plane</param>
    public static void ForwardPlanes(ReadOnlySpan<float> x, ReadOnlySpan<float> γ, ReadOnlySpan<float> β, int batch, int channels, in ConvGeometry pool,
        int firstChannel, int lastChannel, bool training, float momentum, float epsilon, Activation activation,
        Span<float> runningMean, Span<float> runningVariance, Span<float> mean, Span<float> inverseStd, Span<float> scratch,
        Span<float> pooled, Span<int> argmax)
    {
        int spatial = pool.InputPixels, outputPixels = pool.OutputPixels;
        var plane = scratch[..spatial];
        for (int c = firstChannel; c < lastChannel; c++)
        {
            BatchNormalization.ChannelStatistics(x, batch, channels, spatial, c, training, momentum, epsilon, runningMean, runningVariance, mean, inverseStd);
            for (int n = 0; n < batch; n++)
            {
                int at = n * channels + c;
                BatchNormalization.NormalizePlane(x.Slice(at * spatial, spatial), mean[c], inverseStd[c], γ[c], β[c], activation == Activation.ReLU, plane);
                MaxPool.Forward(plane, 1, pool, pooled.Slice(at * outputPixels, outputPixels), argmax.Slice(at * outputPixels, outputPixels));
            }
        }
    }

    /// <summary>
    /// Channels [firstChannel, lastChannel), after <see cref="ForwardPlanes"/> with the same activation, γ and β: a channel's δ of the
    /// normalised output is the pooled δ put back at the argmax (as <c>MaxPool.Backward</c>) into the scratch planes once, which
    /// the batch norm's two passes then read (a channel's planes stay in cache between them).
    /// </summary>
    /// <param name="δpooled">[N, C, OH, OW]</param> <param name="argmax">[N, C, OH, OW] from the forward pass</param>
    /// <param name="x">[N, C, H, W], the forward input</param> <param name="γ">[C]</param> <param name="β">[C]</param>
    /// <param name="mean">[C]</param> <param name="inverseStd">[C] (both from the forward pass)</param>
    /// <param name="scratch">work: N·H·W floats (one channel)</param>
    /// <param name="δx">[N, C, H, W]</param> <param name="δγ">[C]</param> <param name="δβ">[C]</param>
    public static void BackwardPlanes(ReadOnlySpan<float> δpooled, ReadOnlySpan<int> argmax, ReadOnlySpan<float> x, ReadOnlySpan<float> γ,
        ReadOnlySpan<float> β, ReadOnlySpan<float> mean, ReadOnlySpan<float> inverseStd, int batch, int channels, in ConvGeometry pool,
        int firstChannel, int lastChannel, bool training, Activation activation, Span<float> scratch, Span<float> δx, Span<float> δγ, Span<float> δβ)
    {
        int spatial = pool.InputPixels, outputPixels = pool.OutputPixels, perChannel = batch * spatial;
        bool mask = activation == Activation.ReLU;
        for (int c = firstChannel; c < lastChannel; c++)
        {
            double sumδ = 0, sumδxHat = 0;
            for (int n = 0; n < batch; n++)
            {
                int at = n * channels + c;
                var δplane = scratch.Slice(n * spatial, spatial);
                Unpool(δpooled.Slice(at * outputPixels, outputPixels), argmax.Slice(at * outputPixels, outputPixels), δplane);
                var (planeδ, planeδxHat) = BatchNormalization.GradientSums(δplane, x.Slice(at * spatial, spatial), mean[c], inverseStd[c], γ[c], β[c], mask);
                sumδ += planeδ;
                sumδxHat += planeδxHat;
            }
            var (scale, meanδ, meanδxHat) = BatchNormalization.ChannelGradients(sumδ, sumδxHat, γ[c], inverseStd[c], perChannel, training,
                                                                               out δβ[c], out δγ[c]);
            for (int n = 0; n < batch; n++)
            {
                int at = n * channels + c;
                BatchNormalization.InputGradientPlane(scratch.Slice(n * spatial, spatial), x.Slice(at * spatial, spatial), mean[c], inverseStd[c], γ[c], β[c],
                                                      mask, meanδ, meanδxHat, scale, δx.Slice(at * spatial, spatial));
            }
        }
    }

    /// <summary>One plane of <c>MaxPool.Backward</c>: each output's δ added to the input that won its window, zero elsewhere.</summary>
    static void Unpool(ReadOnlySpan<float> δpooled, ReadOnlySpan<int> argmax, Span<float> δplane)
    {
        δplane.Clear();
        for (int i = 0; i < δpooled.Length; i++) δplane[argmax[i]] += δpooled[i];
    }
}

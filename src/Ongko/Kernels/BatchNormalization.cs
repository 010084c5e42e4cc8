using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Ongko.Kernels;

/// <summary>
/// Batch normalisation with PyTorch's semantics as forward/backward kernels, with an activation applied to the
/// output (the execution plan passes a following ReLU here). Training normalises with the batch's mean and biased
/// variance and updates running = (1 − momentum)·running + momentum·batch (variance unbiased); evaluation uses
/// the running statistics. y = act(γ·x̂ + β), x̂ = (x − μ)/√(σ² + ε).
/// Backward (training): δx = γ/√(σ²+ε)/M · (M·δz − Σδz − x̂·Σ(δz·x̂)), δz = δy masked by act', M = values per channel.
/// Two layouts: planes ([N, C, S], S = H·W > 1: per channel, parallel over channels by the caller) and rows
/// ([N, F]: vectorized across features). <see cref="ForwardNaive"/> and <see cref="BackwardNaive"/> are the twins.
/// </summary>
public static class BatchNormalization
{
    /// <summary>Channels [firstChannel, lastChannel) of planes; x̂ is not stored (the backward pass recomputes it from x).</summary>
    /// <param name="x">[N, C, S]</param> <param name="γ">[C]</param> <param name="β">[C]</param>
    /// <param name="runningMean">[C], read in evaluation, updated in training</param> <param name="runningVariance">[C], likewise</param>
    /// <param name="mean">[C]: μ used (for the backward pass)</param> <param name="inverseStd">[C]: 1/√(σ²+ε) used</param>
    /// <param name="y">[N, C, S]</param>
    public static void ForwardPlanes(ReadOnlySpan<float> x, ReadOnlySpan<float> γ, ReadOnlySpan<float> β,
        int batch, int channels, int spatial, int firstChannel, int lastChannel, bool training, float momentum, float epsilon, Activation activation,
        Span<float> runningMean, Span<float> runningVariance, Span<float> mean, Span<float> inverseStd, Span<float> y)
    {
        bool rectify = activation == Activation.ReLU;
        for (int c = firstChannel; c < lastChannel; c++)
        {
            ChannelStatistics(x, batch, channels, spatial, c, training, momentum, epsilon, runningMean, runningVariance, mean, inverseStd);
            for (int n = 0; n < batch; n++)
            {
                int offset = (n * channels + c) * spatial;
                if (n + 8 < batch) Prefetch(y.Slice(offset + 8 * channels * spatial, spatial));   // the output's lines, before they are written
                NormalizePlane(x.Slice(offset, spatial), mean[c], inverseStd[c], γ[c], β[c], rectify, y.Slice(offset, spatial));
            }
        }
    }

    /// <summary>
    /// mean[c] = μ and inverseStd[c] = 1/√(σ² + ε) of channel c of planes: the batch's (and the running statistics updated) in
    /// training, the running ones in evaluation. Sums in float within a plane (vectorized, one pass), double across planes.
    /// </summary>
    internal static void ChannelStatistics(ReadOnlySpan<float> x, int batch, int channels, int spatial, int c, bool training, float momentum,
        float epsilon, Span<float> runningMean, Span<float> runningVariance, Span<float> mean, Span<float> inverseStd)
    {
        int perChannel = batch * spatial;
        double μ, σ2;
        if (training)
        {
            double sum = 0, sumSquares = 0;
            for (int n = 0; n < batch; n++)
            {
                if (n + 8 < batch) Prefetch(x.Slice(((n + 8) * channels + c) * spatial, spatial));
                var (planeSum, planeSquares) = SumAndSquares(x.Slice((n * channels + c) * spatial, spatial));
                sum += planeSum;
                sumSquares += planeSquares;
            }
            StatisticsFromSums(sum, sumSquares, perChannel, c, momentum, epsilon, runningMean, runningVariance, mean, inverseStd);
            return;
        }
        (μ, σ2) = (runningMean[c], runningVariance[c]);
        inverseStd[c] = (float)(1 / Math.Sqrt(σ2 + epsilon));
        mean[c] = (float)μ;
    }

    /// <summary>
    /// Training statistics of channel <paramref name="c"/> from Σx and Σx² over its <paramref name="perChannel"/> values: μ, the biased σ² for
    /// normalising (returned, in double), the running statistics updated (unbiased variance), and μ and 1/√(σ² + ε) as floats.
    /// </summary>
    internal static (double Mean, double Variance) StatisticsFromSums(double sum, double sumSquares, int perChannel, int c, float momentum, float epsilon,
        Span<float> runningMean, Span<float> runningVariance, Span<float> mean, Span<float> inverseStd)
    {
        double μ = sum / perChannel, σ2 = Math.Max(sumSquares / perChannel - μ * μ, 0);
        runningMean[c] = (float)((1 - momentum) * runningMean[c] + momentum * μ);
        runningVariance[c] = (float)((1 - momentum) * runningVariance[c] + momentum * σ2 * perChannel / (perChannel - 1));
        inverseStd[c] = (float)(1 / Math.Sqrt(σ2 + epsilon));
        mean[c] = (float)μ;
        return (μ, σ2);
    }

    /// <summary>
    /// Channels [firstChannel, lastChannel) of planes, after <see cref="ForwardPlanes"/> with the same activation and the same
    /// γ and β. A ReLU's mask (y > 0) is recomputed from x by the forward pass's own float expression instead of read from y:
    /// the same mask bit for bit, one stream fewer in both passes (the pass is memory-bound).
    /// </summary>
    /// <param name="δy">[N, C, S]</param> <param name="x">[N, C, S], the forward input</param>
    /// <param name="γ">[C]</param> <param name="β">[C]</param> <param name="mean">[C]</param> <param name="inverseStd">[C] (both from the forward pass)</param>
    /// <param name="δx">[N, C, S]</param> <param name="δγ">[C]</param> <param name="δβ">[C]</param>
    public static void BackwardPlanes(ReadOnlySpan<float> δy, ReadOnlySpan<float> x, ReadOnlySpan<float> γ, ReadOnlySpan<float> β,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> inverseStd, int batch, int channels, int spatial, int firstChannel, int lastChannel,
        bool training, Activation activation, Span<float> δx, Span<float> δγ, Span<float> δβ)
    {
        int perChannel = batch * spatial;
        bool mask = activation == Activation.ReLU;   // δy counts only where y > 0, i.e. γ·x̂ + β > 0
        for (int c = firstChannel; c < lastChannel; c++)
        {
            double sumδ = 0, sumδxHat = 0;
            for (int n = 0; n < batch; n++)
            {
                int offset = (n * channels + c) * spatial;
                if (n + 8 < batch)
                {
                    Prefetch(δy.Slice(offset + 8 * channels * spatial, spatial));
                    Prefetch(x.Slice(offset + 8 * channels * spatial, spatial));
                }
                var (planeδ, planeδxHat) = GradientSums(δy.Slice(offset, spatial), x.Slice(offset, spatial), mean[c], inverseStd[c], γ[c], β[c], mask);
                sumδ += planeδ;
                sumδxHat += planeδxHat;
            }
            var (scale, meanδ, meanδxHat) = ChannelGradients(sumδ, sumδxHat, γ[c], inverseStd[c], perChannel, training, out δβ[c], out δγ[c]);
            for (int n = 0; n < batch; n++)
            {
                int offset = (n * channels + c) * spatial;
                if (n + 8 < batch) Prefetch(δx.Slice(offset + 8 * channels * spatial, spatial));   // the output's lines, before they are written
                // δx = γ/σ·(δy − mean δy − x̂·mean(δy·x̂))
                InputGradientPlane(δy.Slice(offset, spatial), x.Slice(offset, spatial), mean[c], inverseStd[c], γ[c], β[c], mask,
                                   meanδ, meanδxHat, scale, δx.Slice(offset, spatial));
            }
        }
    }

    /// <summary>
    /// δβ = Σδ and δγ = Σδ·x̂ of a channel, and what its δx pass needs: scale = γ/σ and the two means (zero in evaluation, where the
    /// statistics are constants and only the direct path remains).
    /// </summary>
    internal static (float Scale, float Meanδ, float MeanδxHat) ChannelGradients(double sumδ, double sumδxHat, float γ, float inverseStd,
        int perChannel, bool training, out float δβ, out float δγ)
    {
        (δβ, δγ) = ((float)sumδ, (float)sumδxHat);
        return (γ * inverseStd, training ? (float)(sumδ / perChannel) : 0, training ? (float)(sumδxHat / perChannel) : 0);
    }

    /// <summary>
    /// Rows [N, F]: whole rows at a time, vectorized across features (a per-plane loop would make one call per value).
    /// Mean, then the centred variance (two passes), in float per feature; x̂ is stored for the backward pass.
    /// </summary>
    /// <param name="x">[N, F]</param> <param name="γ">[F]</param> <param name="β">[F]</param>
    /// <param name="runningMean">[F], read in evaluation, updated in training</param> <param name="runningVariance">[F], likewise</param>
    /// <param name="work">[3·F] scratch</param> <param name="inverseStd">[F]</param> <param name="xHat">[N, F]</param> <param name="y">[N, F]</param>
    public static void ForwardRows(ReadOnlySpan<float> x, ReadOnlySpan<float> γ, ReadOnlySpan<float> β,
        int batch, int features, bool training, float momentum, float epsilon, Activation activation,
        Span<float> runningMean, Span<float> runningVariance, Span<float> work, Span<float> inverseStd, Span<float> xHat, Span<float> y)
    {
        int F = features;
        var μ = work[..F];
        var invStd = inverseStd[..F];
        if (training)
        {
            var spread = work.Slice(F, F);
            var temp = work.Slice(2 * F, F);
            μ.Clear();
            spread.Clear();
            for (int n = 0; n < batch; n++) TensorPrimitives.Add(μ, x.Slice(n * F, F), μ);
            TensorPrimitives.Multiply(μ, 1f / batch, μ);
            for (int n = 0; n < batch; n++)
            {
                TensorPrimitives.Subtract(x.Slice(n * F, F), μ, temp);
                TensorPrimitives.MultiplyAdd(temp, temp, spread, spread);
            }
            for (int f = 0; f < F; f++)
            {
                double σ2 = spread[f] / batch;
                runningMean[f] = (float)((1 - momentum) * runningMean[f] + momentum * μ[f]);
                runningVariance[f] = (float)((1 - momentum) * runningVariance[f] + momentum * σ2 * batch / (batch - 1));
                invStd[f] = (float)(1 / Math.Sqrt(σ2 + epsilon));
            }
        }
        else
            for (int f = 0; f < F; f++)
            {
                μ[f] = runningMean[f];
                invStd[f] = (float)(1 / Math.Sqrt(runningVariance[f] + epsilon));
            }
        for (int n = 0; n < batch; n++)
        {
            var h = xHat.Slice(n * F, F);
            TensorPrimitives.Subtract(x.Slice(n * F, F), μ, h);
            TensorPrimitives.Multiply(h, invStd, h);                                   // x̂ = (x − μ)/σ
            TensorPrimitives.MultiplyAdd(h, γ[..F], β[..F], y.Slice(n * F, F));        // y = γ·x̂ + β
            Rectifier.Apply(activation, y.Slice(n * F, F));
        }
    }

    /// <summary>Rows [N, F], after <see cref="ForwardRows"/> with the same activation.</summary>
    /// <param name="δy">[N, F]</param> <param name="xHat">[N, F]</param> <param name="y">[N, F]</param> <param name="γ">[F]</param>
    /// <param name="inverseStd">[F]</param> <param name="work">[4·F] scratch</param>
    /// <param name="δx">[N, F]</param> <param name="δγ">[F]</param> <param name="δβ">[F]</param>
    public static void BackwardRows(ReadOnlySpan<float> δy, ReadOnlySpan<float> xHat, ReadOnlySpan<float> y, ReadOnlySpan<float> γ,
        ReadOnlySpan<float> inverseStd, int batch, int features, bool training, Activation activation,
        Span<float> work, Span<float> δx, Span<float> δγ, Span<float> δβ)
    {
        int F = features;
        if (activation == Activation.ReLU)
        {
            // Masked δy goes to δx first, which the row pass then reads and overwrites row by row.
            Rectifier.Backward(y[..(batch * F)], δy[..(batch * F)], δx);
            δy = δx;
        }
        δγ = δγ[..F];
        δβ = δβ[..F];
        δγ.Clear();
        δβ.Clear();
        var scale = work[..F];
        var meanδ = work.Slice(F, F);
        var meanδxHat = work.Slice(2 * F, F);
        var temp = work.Slice(3 * F, F);
        for (int n = 0; n < batch; n++)
        {
            var δyRow = δy.Slice(n * F, F);
            TensorPrimitives.Add(δβ, δyRow, δβ);
            TensorPrimitives.MultiplyAdd(δyRow, xHat.Slice(n * F, F), δγ, δγ);
        }
        TensorPrimitives.Multiply(γ[..F], inverseStd[..F], scale);
        if (training)
        {
            TensorPrimitives.Multiply(δβ, 1f / batch, meanδ);
            TensorPrimitives.Multiply(δγ, 1f / batch, meanδxHat);
        }
        else
        {
            meanδ.Clear();
            meanδxHat.Clear();
        }
        for (int n = 0; n < batch; n++)
        {
            var δxRow = δx.Slice(n * F, F);
            TensorPrimitives.Multiply(xHat.Slice(n * F, F), meanδxHat, temp);
            TensorPrimitives.Subtract(δy.Slice(n * F, F), temp, δxRow);
            TensorPrimitives.Subtract(δxRow, meanδ, δxRow);
            TensorPrimitives.Multiply(δxRow, scale, δxRow);        // δx = γ/σ·(δy − mean δy − x̂·mean(δy·x̂))
        }
    }

    /// <summary>
    /// Evaluation-mode batch normalisation after a layer with output bias b, as one per-channel affine map of that
    /// layer's bias-free output: y = scale·z + shift with scale = γ/√(σ²+ε), shift = (b − μ)·scale + β.
    /// </summary>
    /// <param name="γ">[C]</param> <param name="β">[C]</param> <param name="runningMean">[C]</param> <param name="runningVariance">[C]</param>
    /// <param name="bias">[C], the preceding layer's bias, or empty</param>
    /// <param name="scale">[C]</param> <param name="shift">[C]</param>
    public static void FoldIntoScaleShift(ReadOnlySpan<float> γ, ReadOnlySpan<float> β, ReadOnlySpan<float> runningMean,
        ReadOnlySpan<float> runningVariance, ReadOnlySpan<float> bias, int channels, float epsilon, Span<float> scale, Span<float> shift)
    {
        for (int c = 0; c < channels; c++)
        {
            float invStd = (float)(1 / Math.Sqrt(runningVariance[c] + epsilon));
            scale[c] = γ[c] * invStd;
            shift[c] = ((bias.IsEmpty ? 0 : bias[c]) - runningMean[c]) * scale[c] + β[c];
        }
    }

    /// <summary>
    /// The twin of both layouts: direct loops in double over [N, C, S] (rows are S = 1), statistics from the
    /// formulas above. Updates the running statistics in training, as the fast kernels do.
    /// </summary>
    /// <param name="x">[N, C, S]</param> <param name="γ">[C]</param> <param name="β">[C]</param>
    /// <param name="runningMean">[C]</param> <param name="runningVariance">[C]</param> <param name="y">[N, C, S]</param>
    public static void ForwardNaive(ReadOnlySpan<float> x, ReadOnlySpan<float> γ, ReadOnlySpan<float> β,
        int batch, int channels, int spatial, bool training, float momentum, float epsilon, Activation activation,
        Span<float> runningMean, Span<float> runningVariance, Span<float> y)
    {
        int m = batch * spatial;
        for (int c = 0; c < channels; c++)
        {
            var (μ, σ2) = training ? Statistics(x, batch, channels, spatial, c) : (runningMean[c], runningVariance[c]);
            if (training)
            {
                runningMean[c] = (float)((1 - momentum) * runningMean[c] + momentum * μ);
                runningVariance[c] = (float)((1 - momentum) * runningVariance[c] + momentum * σ2 * m / (m - 1));
            }
            double invStd = 1 / Math.Sqrt(σ2 + epsilon);
            for (int n = 0; n < batch; n++)
                for (int p = 0; p < spatial; p++)
                {
                    int at = (n * channels + c) * spatial + p;
                    double value = γ[c] * (x[at] - μ) * invStd + β[c];
                    y[at] = (float)(activation == Activation.ReLU && !(value > 0) ? 0 : value);
                }
        }
    }

    /// <summary>The twin of both backward kernels: direct loops in double; δy masked by y > 0 for ReLU, as the fast kernels do.</summary>
    /// <param name="δy">[N, C, S]</param> <param name="x">[N, C, S]</param> <param name="y">[N, C, S], the forward output</param>
    /// <param name="γ">[C]</param> <param name="runningMean">[C]</param> <param name="runningVariance">[C] (evaluation's statistics)</param>
    /// <param name="δx">[N, C, S]</param> <param name="δγ">[C]</param> <param name="δβ">[C]</param>
    public static void BackwardNaive(ReadOnlySpan<float> δy, ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> γ,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVariance, int batch, int channels, int spatial, bool training,
        float epsilon, Activation activation, Span<float> δx, Span<float> δγ, Span<float> δβ)
    {
        int m = batch * spatial;
        for (int c = 0; c < channels; c++)
        {
            var (μ, σ2) = training ? Statistics(x, batch, channels, spatial, c) : (runningMean[c], runningVariance[c]);
            double invStd = 1 / Math.Sqrt(σ2 + epsilon), sumδ = 0, sumδxHat = 0;
            for (int n = 0; n < batch; n++)
                for (int p = 0; p < spatial; p++)
                {
                    int at = (n * channels + c) * spatial + p;
                    double δz = activation == Activation.ReLU && !(y[at] > 0) ? 0 : δy[at];
                    sumδ += δz;
                    sumδxHat += δz * (x[at] - μ) * invStd;
                }
            δβ[c] = (float)sumδ;
            δγ[c] = (float)sumδxHat;
            for (int n = 0; n < batch; n++)
                for (int p = 0; p < spatial; p++)
                {
                    int at = (n * channels + c) * spatial + p;
                    double δz = activation == Activation.ReLU && !(y[at] > 0) ? 0 : δy[at];
                    double xHat = (x[at] - μ) * invStd;
                    δx[at] = (float)(training ? γ[c] * invStd / m * (m * δz - sumδ - xHat * sumδxHat) : γ[c] * invStd * δz);
                }
        }
    }

    /// <summary>Mean and biased variance of channel c of [N, C, S], in double.</summary>
    static (double Mean, double Variance) Statistics(ReadOnlySpan<float> x, int batch, int channels, int spatial, int c)
    {
        double sum = 0, squares = 0;
        for (int n = 0; n < batch; n++)
            for (int p = 0; p < spatial; p++) sum += x[(n * channels + c) * spatial + p];
        double μ = sum / (batch * spatial);
        for (int n = 0; n < batch; n++)
            for (int p = 0; p < spatial; p++) squares += Math.Pow(x[(n * channels + c) * spatial + p] - μ, 2);
        return (μ, squares / (batch * spatial));
    }

    /// <summary>Σx and Σx² of one plane in one pass.</summary>
    static (float Sum, float Squares) SumAndSquares(ReadOnlySpan<float> x)
    {
        int i = 0;
        float sum = 0, squares = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count)
        {
            Vector<float> s = Vector<float>.Zero, q = Vector<float>.Zero;
            for (; i <= x.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var v = new Vector<float>(x[i..]);
                s += v;
                q += v * v;
            }
            sum = Vector.Sum(s);
            squares = Vector.Sum(q);
        }
        for (; i < x.Length; i++) { sum += x[i]; squares += x[i] * x[i]; }
        return (sum, squares);
    }

    /// <summary>y = γ·x̂ + β with x̂ = (x − μ)·invStd (then max(y, 0) when rectifying), in one pass; x̂ is not stored.</summary>
    internal static void NormalizePlane(ReadOnlySpan<float> x, float μ, float invStd, float γ, float β, bool rectify, Span<float> y)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> vμ = new(μ), vInv = new(invStd), vγ = new(γ), vβ = new(β), floor = new(rectify ? 0f : float.NegativeInfinity);
            for (; i <= x.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var h = (new Vector<float>(x[i..]) - vμ) * vInv;
                Vector.Max(h * vγ + vβ, floor).CopyTo(y[i..]);
            }
        }
        for (; i < x.Length; i++)
        {
            float h = (x[i] - μ) * invStd, value = h * γ + β;
            y[i] = rectify && !(value > 0) ? 0 : value;
        }
    }

    /// <summary>
    /// Σδy and Σδy·x̂ (x̂ = (x − μ)·invStd) over one plane, δy masked by γ·x̂ + β > 0 with <paramref name="mask"/> (a fused ReLU:
    /// the forward pass's y > 0, by the same float operations as <see cref="NormalizePlane"/>).
    /// </summary>
    internal static (float Sum, float SumXHat) GradientSums(ReadOnlySpan<float> δy, ReadOnlySpan<float> x, float μ, float invStd, float γ, float β, bool mask)
    {
        int i = 0;
        float sum = 0, sumXHat = 0;
        if (Vector.IsHardwareAccelerated && δy.Length >= Vector<float>.Count)
        {
            Vector<float> s = Vector<float>.Zero, t = Vector<float>.Zero, vμ = new(μ), vInv = new(invStd), vγ = new(γ), vβ = new(β);
            for (; i <= δy.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var d = new Vector<float>(δy[i..]);
                var h = (new Vector<float>(x[i..]) - vμ) * vInv;
                if (mask) d = Vector.ConditionalSelect(Vector.GreaterThan(h * vγ + vβ, Vector<float>.Zero), d, Vector<float>.Zero);
                s += d;
                t += d * h;
            }
            sum = Vector.Sum(s);
            sumXHat = Vector.Sum(t);
        }
        for (; i < δy.Length; i++)
        {
            float h = (x[i] - μ) * invStd;
            float d = mask && !(h * γ + β > 0) ? 0 : δy[i];
            sum += d;
            sumXHat += d * h;
        }
        return (sum, sumXHat);
    }

    /// <summary>δx = scale·(δy − meanδ − x̂·meanδxHat), δy masked as in <see cref="GradientSums"/>.</summary>
    internal static void InputGradientPlane(ReadOnlySpan<float> δy, ReadOnlySpan<float> x, float μ, float invStd, float γ, float β, bool mask,
                                            float meanδ, float meanδxHat, float scale, Span<float> δx)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> vMeanδ = new(meanδ), vMeanδxHat = new(meanδxHat), vScale = new(scale), vμ = new(μ), vInv = new(invStd), vγ = new(γ), vβ = new(β);
            for (; i <= δy.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var d = new Vector<float>(δy[i..]);
                var h = (new Vector<float>(x[i..]) - vμ) * vInv;
                if (mask) d = Vector.ConditionalSelect(Vector.GreaterThan(h * vγ + vβ, Vector<float>.Zero), d, Vector<float>.Zero);
                ((d - h * vMeanδxHat - vMeanδ) * vScale).CopyTo(δx[i..]);
            }
        }
        for (; i < δy.Length; i++)
        {
            float h = (x[i] - μ) * invStd;
            float d = mask && !(h * γ + β > 0) ? 0 : δy[i];
            δx[i] = (d - h * meanδxHat - meanδ) * scale;
        }
    }

    /// <summary>
    /// Asks for a plane's cache lines (the passes run it 8 planes ahead): a channel's planes are short runs (196 or 49 values) a whole image
    /// apart, which the hardware prefetcher does not follow, so each plane's lines otherwise arrive one miss after another. Measured with the
    /// caches evicted between calls (as in a training step), thread CPU at batch 128: BatchNorm2D(64) at 14x14 forward 1.2 -> 0.8 ms,
    /// backward 1.7-1.9 -> 1.3; BatchNorm2D(128) at 7x7 forward 0.73 -> 0.65, backward 1.25 -> 0.9 (2 planes ahead gained about half of that).
    /// </summary>
    static unsafe void Prefetch(ReadOnlySpan<float> plane)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported) return;
        fixed (float* p = plane)
            for (int i = 0; i < plane.Length; i += 16) System.Runtime.Intrinsics.X86.Sse.Prefetch0(p + i);
    }
}

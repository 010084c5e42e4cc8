using System.Numerics;
using Ongko.Kernels;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Ongko.Tensors;

namespace Ongko.Layers;

/// <summary>
/// Batch normalisation with PyTorch's semantics, shared by <see cref="BatchNorm2D"/> ([N, C, H, W], statistics
/// per channel over N·H·W) and <see cref="BatchNorm1D"/> ([N, F], per feature over N). Training uses the
/// batch's mean and biased variance and updates running = (1 − momentum)·running + momentum·batch (variance
/// unbiased); evaluation uses the running statistics. y = γ·(x − μ)/√(σ² + ε) + β.
/// Backward (training): δx = γ/√(σ²+ε)/M · (M·δy − Σδy − x̂·Σ(δy·x̂)), M = values per channel.
/// </summary>
public abstract class BatchNorm : Layer, IActivationProducer
{
    readonly int channels;
    readonly float momentum, epsilon;
    Parameter? weight, bias;
    Tensor runningMean = new(0), runningVariance = new(0), batchesTracked = new(Array.Empty<int>());
    Tensor? output, δinput, normalized;   // normalized (x̂): rows only; planes recompute x̂ from the input in Backward
    Tensor? lastInput;
    float[] batchMean = [];
    float[] inverseStd = [];
    bool lastTraining;
    int batch, spatial;

    protected BatchNorm(int channels, float momentum, float epsilon)
    {
        if (channels < 1) throw new ArgumentException($"{GetType().Name}({channels}): channel count must be >= 1");
        if (momentum is < 0 or > 1 || epsilon <= 0) throw new ArgumentException($"{GetType().Name}: momentum must be in [0, 1] and eps > 0");
        (this.channels, this.momentum, this.epsilon) = (channels, momentum, epsilon);
    }

    public override string Arguments => $"{channels}";
    public Parameter Weight => weight ?? throw new InvalidOperationException($"{this} is not built yet");
    public Parameter Bias => bias ?? throw new InvalidOperationException($"{this} is not built yet");
    public Tensor RunningMean => runningMean;
    public Tensor RunningVariance => runningVariance;
    /// <summary>PyTorch's eps and momentum (running = (1 − momentum)·running + momentum·batch); read by export.</summary>
    public float Epsilon => epsilon;
    public float Momentum => momentum;
    public override IReadOnlyList<Parameter> Parameters => weight is null ? [] : [weight, bias!];
    /// <summary>PyTorch's num_batches_tracked (a 0-d counter; kept so strict load_state_dict finds every key).</summary>
    public override IReadOnlyList<(string Name, Tensor Value)> Buffers =>
        [("running_mean", runningMean), ("running_var", runningVariance), ("num_batches_tracked", batchesTracked)];

    bool rectified;   // the current call's activation is ReLU: max(y, 0) in the forward pass, δy masked by y > 0 in the backward

    /// <summary>Checks the sample shape and returns the number of values per channel in one sample.</summary>
    protected abstract int SpatialSize(int[] sampleShape);

    public override int[] Build(int[] sampleShape, Rng rng)
    {
        spatial = SpatialSize(sampleShape);
        weight = new Parameter("weight", new Tensor(channels));
        weight.Value.Fill(1);
        bias = new Parameter("bias", new Tensor(channels));
        runningMean = new Tensor(channels);
        runningVariance = new Tensor(channels);
        runningVariance.Fill(1);
        return sampleShape;
    }

    // Per-call state for the cached worker delegates (no closure, so a step allocates nothing).
    float[] xData = [], yData = [], δyData = [], δxData = [];
    bool training;
    float[] rowSum = [], rowSpread = [], rowScale = [], rowMeanδ = [], rowMeanδxHat = [], rowTemp = [];
    Action<int, int, int>? forwardPlanes, backwardPlanes;

    public override Tensor Forward(Tensor input, bool training) => Forward(input, training, Activation.None);

    /// <summary>activation(batchnorm(input)), in one pass.</summary>
    public Tensor Forward(Tensor input, bool training, Activation activation)
    {
        if (input.Length % (channels * spatial) != 0 || input.Rank < 2 || input[1] != channels)
            throw ShapeError("input", [-1, channels], input.Shape);
        batch = input[0];
        int perChannel = batch * spatial;
        if (training && perChannel < 2) throw new ShapeException($"{this}: training needs more than one value per channel (batch {batch})");
        lastTraining = training;
        this.training = training;
        rectified = activation == Activation.ReLU;
        var output = Tensor.Reuse(ref this.output, input.Shape);
        if (spatial == 1) Tensor.Reuse(ref normalized, input.Shape);
        lastInput = input;
        if (batchMean.Length < channels) batchMean = new float[channels];
        if (training) batchesTracked.Span[0]++;
        if (inverseStd.Length < channels) inverseStd = new float[channels];
        (xData, yData) = (input.Data, output.Data);
        if (spatial == 1) ForwardRows();
        else Threads.ForRanges(channels, forwardPlanes ??= ForwardPlanes);
        return output;
    }

    void ForwardPlanes(int worker, int first, int last)
    {
        float[] x = xData, y = yData, γ = Weight.Value.Data, β = Bias.Value.Data;
        float[] mean = runningMean.Data, variance = runningVariance.Data;
        int perChannel = batch * spatial;
        bool rectify = rectified;
        for (int c = first; c < last; c++)
        {
            double μ, σ2;
            if (training)
            {
                double sum = 0, sumSquares = 0;   // float within a plane (vectorized, one pass), double across planes
                for (int n = 0; n < batch; n++)
                {
                    var (planeSum, planeSquares) = SumAndSquares(x.AsSpan((n * channels + c) * spatial, spatial));
                    sum += planeSum;
                    sumSquares += planeSquares;
                }
                μ = sum / perChannel;
                σ2 = Math.Max(sumSquares / perChannel - μ * μ, 0);
                mean[c] = (float)((1 - momentum) * mean[c] + momentum * μ);
                variance[c] = (float)((1 - momentum) * variance[c] + momentum * σ2 * perChannel / (perChannel - 1));
            }
            else (μ, σ2) = (mean[c], variance[c]);
            float invStd = (float)(1 / Math.Sqrt(σ2 + epsilon));
            inverseStd[c] = invStd;
            batchMean[c] = (float)μ;
            for (int n = 0; n < batch; n++)
            {
                int offset = (n * channels + c) * spatial;
                NormalizePlane(x.AsSpan(offset, spatial), (float)μ, invStd, γ[c], β[c], rectify, y.AsSpan(offset, spatial));
            }
        }
    }

    /// <summary>Σx and Σx² of one plane in one pass.</summary>
    internal static (float Sum, float Squares) SumAndSquares(ReadOnlySpan<float> x)
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
    /// [N, F] (BatchNorm1D): whole rows at a time, vectorized across features (a per-plane loop would make
    /// one call per value). Mean, then the centred variance (two passes), in float per feature.
    /// </summary>
    void ForwardRows()
    {
        int F = channels;
        EnsureRowBuffers();
        float[] x = xData, y = yData, xHat = normalized!.Data, γ = Weight.Value.Data, β = Bias.Value.Data;
        float[] mean = runningMean.Data, variance = runningVariance.Data;
        var μ = rowSum.AsSpan(0, F);
        var invStd = inverseStd.AsSpan(0, F);
        if (training)
        {
            var spread = rowSpread.AsSpan(0, F);
            var temp = rowTemp.AsSpan(0, F);
            μ.Clear();
            spread.Clear();
            for (int n = 0; n < batch; n++) TensorPrimitives.Add(μ, x.AsSpan(n * F, F), μ);
            TensorPrimitives.Multiply(μ, 1f / batch, μ);
            for (int n = 0; n < batch; n++)
            {
                TensorPrimitives.Subtract(x.AsSpan(n * F, F), μ, temp);
                TensorPrimitives.MultiplyAdd(temp, temp, spread, spread);
            }
            for (int f = 0; f < F; f++)
            {
                double σ2 = spread[f] / batch;
                mean[f] = (float)((1 - momentum) * mean[f] + momentum * μ[f]);
                variance[f] = (float)((1 - momentum) * variance[f] + momentum * σ2 * batch / (batch - 1));
                invStd[f] = (float)(1 / Math.Sqrt(σ2 + epsilon));
            }
        }
        else
            for (int f = 0; f < F; f++)
            {
                μ[f] = mean[f];
                invStd[f] = (float)(1 / Math.Sqrt(variance[f] + epsilon));
            }
        for (int n = 0; n < batch; n++)
        {
            var h = xHat.AsSpan(n * F, F);
            TensorPrimitives.Subtract(x.AsSpan(n * F, F), μ, h);
            TensorPrimitives.Multiply(h, invStd, h);                                   // x̂ = (x − μ)/σ
            TensorPrimitives.MultiplyAdd(h, γ.AsSpan(0, F), β.AsSpan(0, F), y.AsSpan(n * F, F));   // y = γ·x̂ + β
            if (rectified) Rectifier.Forward(y.AsSpan(n * F, F), y.AsSpan(n * F, F));
        }
    }

    void EnsureRowBuffers()
    {
        if (rowSum.Length >= channels) return;
        rowSum = new float[channels]; rowSpread = new float[channels]; rowScale = new float[channels];
        rowMeanδ = new float[channels]; rowMeanδxHat = new float[channels]; rowTemp = new float[channels];
    }

    public override Tensor Backward(Tensor δoutput) => Backward(δoutput, Activation.None, inputGradient: true)!;

    /// <summary>Backward of activation(batchnorm(x)); δinput is always computed (it costs little beside the sums).</summary>
    public Tensor? Backward(Tensor δoutput, Activation activation, bool inputGradient)
    {
        var outputTensor = output ?? throw new InvalidOperationException($"{this}: Backward before Forward");
        if (!δoutput.SameShape(outputTensor)) throw ShapeError("δoutput", outputTensor.Shape, δoutput.Shape);
        var δinput = Tensor.Reuse(ref this.δinput, δoutput.Shape);
        (δyData, δxData) = (δoutput.Data, δinput.Data);
        training = lastTraining;
        rectified = activation == Activation.ReLU;
        if (spatial == 1)
        {
            // A fused ReLU passed δy through: mask it here (into δx, which the row pass may read and overwrite in place).
            if (rectified) { Rectifier.Backward(output!.Span, δoutput.Span, δinput.Span); δyData = δinput.Data; }
            BackwardRows();
        }
        else Threads.ForRanges(channels, backwardPlanes ??= BackwardPlanes);
        return inputGradient ? δinput : null;
    }

    void BackwardPlanes(int worker, int first, int last)
    {
        // x̂ is recomputed from the input (still held by the layer before: its output lives until its next Forward).
        float[] δy = δyData, δx = δxData, x = lastInput!.Data, γ = Weight.Value.Data, y = output!.Data;
        float[] δγ = Weight.Gradient.Data, δβ = Bias.Gradient.Data;
        int perChannel = batch * spatial;
        bool mask = rectified;   // a fused ReLU: δy counts only where y > 0
        for (int c = first; c < last; c++)
        {
            double sumδ = 0, sumδxHat = 0;
            for (int n = 0; n < batch; n++)
            {
                int offset = (n * channels + c) * spatial;
                var (planeδ, planeδxHat) = GradientSums(δy.AsSpan(offset, spatial), x.AsSpan(offset, spatial), batchMean[c], inverseStd[c],
                                                        mask ? y.AsSpan(offset, spatial) : default);
                sumδ += planeδ;
                sumδxHat += planeδxHat;
            }
            δβ[c] = (float)sumδ;
            δγ[c] = (float)sumδxHat;
            float scale = γ[c] * inverseStd[c];
            // In evaluation the statistics are constants, so only the direct path remains.
            float meanδ = training ? (float)(sumδ / perChannel) : 0, meanδxHat = training ? (float)(sumδxHat / perChannel) : 0;
            for (int n = 0; n < batch; n++)
            {
                int offset = (n * channels + c) * spatial;
                // δx = γ/σ·(δy − mean δy − x̂·mean(δy·x̂))
                InputGradientPlane(δy.AsSpan(offset, spatial), x.AsSpan(offset, spatial), batchMean[c], inverseStd[c], mask ? y.AsSpan(offset, spatial) : default,
                                   meanδ, meanδxHat, scale, δx.AsSpan(offset, spatial));
            }
        }
    }

    /// <summary>Σδy and Σδy·x̂ (x̂ = (x − μ)·invStd) over one plane, δy masked by y > 0 when <paramref name="y"/> is given (a fused ReLU).</summary>
    internal static (float Sum, float SumXHat) GradientSums(ReadOnlySpan<float> δy, ReadOnlySpan<float> x, float μ, float invStd, ReadOnlySpan<float> y)
    {
        bool mask = !y.IsEmpty;
        int i = 0;
        float sum = 0, sumXHat = 0;
        if (Vector.IsHardwareAccelerated && δy.Length >= Vector<float>.Count)
        {
            Vector<float> s = Vector<float>.Zero, t = Vector<float>.Zero, vμ = new(μ), vInv = new(invStd);
            for (; i <= δy.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var d = new Vector<float>(δy[i..]);
                if (mask) d = Vector.ConditionalSelect(Vector.GreaterThan(new Vector<float>(y[i..]), Vector<float>.Zero), d, Vector<float>.Zero);
                s += d;
                t += d * ((new Vector<float>(x[i..]) - vμ) * vInv);
            }
            sum = Vector.Sum(s);
            sumXHat = Vector.Sum(t);
        }
        for (; i < δy.Length; i++)
        {
            float d = mask && !(y[i] > 0) ? 0 : δy[i];
            sum += d;
            sumXHat += d * ((x[i] - μ) * invStd);
        }
        return (sum, sumXHat);
    }

    /// <summary>δx = scale·(δy − meanδ − x̂·meanδxHat), δy masked by y > 0 when <paramref name="y"/> is given.</summary>
    internal static void InputGradientPlane(ReadOnlySpan<float> δy, ReadOnlySpan<float> x, float μ, float invStd, ReadOnlySpan<float> y,
                                            float meanδ, float meanδxHat, float scale, Span<float> δx)
    {
        bool mask = !y.IsEmpty;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> vMeanδ = new(meanδ), vMeanδxHat = new(meanδxHat), vScale = new(scale), vμ = new(μ), vInv = new(invStd);
            for (; i <= δy.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var d = new Vector<float>(δy[i..]);
                if (mask) d = Vector.ConditionalSelect(Vector.GreaterThan(new Vector<float>(y[i..]), Vector<float>.Zero), d, Vector<float>.Zero);
                ((d - (new Vector<float>(x[i..]) - vμ) * vInv * vMeanδxHat - vMeanδ) * vScale).CopyTo(δx[i..]);
            }
        }
        for (; i < δy.Length; i++)
        {
            float d = mask && !(y[i] > 0) ? 0 : δy[i];
            δx[i] = (d - (x[i] - μ) * invStd * meanδxHat - meanδ) * scale;
        }
    }

    /// <summary>[N, F] (BatchNorm1D): the backward pass row by row, vectorized across features.</summary>
    void BackwardRows()
    {
        int F = channels;
        EnsureRowBuffers();
        float[] δy = δyData, δx = δxData, xHat = normalized!.Data, γ = Weight.Value.Data;
        var δγ = Weight.Gradient.Span[..F];
        var δβ = Bias.Gradient.Span[..F];
        δγ.Clear();
        δβ.Clear();
        var temp = rowTemp.AsSpan(0, F);
        for (int n = 0; n < batch; n++)
        {
            var δyRow = δy.AsSpan(n * F, F);
            TensorPrimitives.Add(δβ, δyRow, δβ);
            TensorPrimitives.MultiplyAdd(δyRow, xHat.AsSpan(n * F, F), δγ, δγ);
        }
        var scale = rowScale.AsSpan(0, F);
        TensorPrimitives.Multiply(γ.AsSpan(0, F), inverseStd.AsSpan(0, F), scale);
        var meanδ = rowMeanδ.AsSpan(0, F);
        var meanδxHat = rowMeanδxHat.AsSpan(0, F);
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
            var δxRow = δx.AsSpan(n * F, F);
            TensorPrimitives.Multiply(xHat.AsSpan(n * F, F), meanδxHat, temp);
            TensorPrimitives.Subtract(δy.AsSpan(n * F, F), temp, δxRow);
            TensorPrimitives.Subtract(δxRow, meanδ, δxRow);
            TensorPrimitives.Multiply(δxRow, scale, δxRow);        // δx = γ/σ·(δy − mean δy − x̂·mean(δy·x̂))
        }
    }
}

/// <summary>Batch normalisation over the channels of [N, C, H, W] (PyTorch's BatchNorm2d).</summary>
public sealed class BatchNorm2D(int channels, float momentum = 0.1f, float epsilon = 1e-5f) : BatchNorm(channels, momentum, epsilon)
{
    public override string Kind => "BatchNorm2D";

    protected override int SpatialSize(int[] sampleShape)
    {
        if (sampleShape.Length != 3) throw ShapeError("input sample shape (BatchNorm2D follows a convolution)", [-1, -1, -1], sampleShape);
        return sampleShape[1] * sampleShape[2];
    }
}

/// <summary>Batch normalisation over the features of [N, F] (PyTorch's BatchNorm1d).</summary>
public sealed class BatchNorm1D(int features, float momentum = 0.1f, float epsilon = 1e-5f) : BatchNorm(features, momentum, epsilon)
{
    public override string Kind => "BatchNorm1D";

    protected override int SpatialSize(int[] sampleShape)
    {
        if (sampleShape.Length != 1) throw ShapeError("input sample shape (BatchNorm1D follows Flatten or Linear)", [-1], sampleShape);
        return 1;
    }
}

using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Ongko.Kernels;
using Ongko.Layers;
using Ongko.Tensors;

namespace Ongko.Models;

/// <summary>
/// Inference image by image at the lowest latency: a model's evaluation compiled once, with its weights, into a few
/// passes over one image (batch-1 latency, where a batched plan's GEMMs are too narrow and its fixed costs dominate):
/// <list type="bullet">
/// <item>each convolution (with its folded BatchNorm, bias, ReLU and a 2x2 stride-2 max pooling after it) is a direct
///   convolution in channels-last layout (<see cref="ChannelsLastConvolution"/>) whose output lands in the next layer's
///   zero-bordered input: no im2col copy, no padding pass, no per-call packing;</item>
/// <item>each Linear (with its folded BatchNorm1D and ReLU) is a packed matrix-vector product (<see cref="PackedGemv"/>);
///   the first one reads the channels-last activations through a permutation of its weight columns, so Flatten is free;</item>
/// <item>Dropout is skipped and a final Softmax applied to the logits.</item>
/// </list>
/// The weights, the folded scales and shifts are copies taken by <see cref="TryCompile"/>: compile again after the
/// weights change. With more than one thread (<see cref="Threads.Count"/>) a pass whose work pays for the hand-off is
/// split over the workers by output rows or output groups; each output is computed the same way either way, so the
/// results do not depend on the thread count. The kernel (AVX-512, AVX2 or scalar) is the calling thread's
/// <see cref="GemmTuning.Kernel"/>. Not thread-safe: one call at a time per plan (its buffers are its own).
/// </summary>
public sealed unsafe class LatencyPlan
{
    readonly Pass[] passes;
    readonly float[] input;          // the first pass's input: the image in channels-last layout with its zero border, or as it came (CHW)
    readonly int inputRowStride, inputPixelStride, inputChannels, inputHeight, inputWidth, inputBorder;
    readonly bool channelsLastInput;
    readonly float[] logits;
    readonly int classes;
    readonly bool softmax;
    readonly int[] sampleShape;
    Tensor? output;

    /// <summary>Multiply-adds below which a pass runs on the calling thread (waking a worker costs about as much); tests set it per thread.</summary>
    internal static long ParallelMinimumWork { get => parallelMinimumWork ?? 150_000; set => parallelMinimumWork = value; }
    [ThreadStatic] static long? parallelMinimumWork;

    LatencyPlan(Pass[] passes, float[] input, int rowStride, int pixelStride, int channels, int height, int width, int border, bool channelsLast,
                float[] logits, int classes, bool softmax, int[] sampleShape)
    {
        (this.passes, this.input, inputRowStride, inputPixelStride, inputChannels, inputHeight, inputWidth, inputBorder, channelsLastInput) =
            (passes, input, rowStride, pixelStride, channels, height, width, border, channelsLast);
        (this.logits, this.classes, this.softmax, this.sampleShape) = (logits, classes, softmax, sampleShape);
    }

    /// <summary>The passes, for profiles and tests.</summary>
    public IReadOnlyList<Pass> Passes => passes;

    /// <summary>
    /// Compiles a built model's evaluation: Conv2D [BatchNorm2D] [ReLU] [MaxPool2D(2, 2)] blocks, then Flatten and Linear
    /// [BatchNorm1D] [ReLU] blocks, Dropout anywhere, an optional final Softmax. Null for any other layer sequence (the
    /// model's <see cref="Sequential.EvaluationPlan"/> runs those).
    /// </summary>
    public static LatencyPlan? TryCompile(Sequential model)
    {
        if (!model.IsBuilt) throw new InvalidOperationException("the model must be built first");
        var layers = model.Layers.Where(layer => layer is not Dropout).ToList();
        bool softmax = layers.Count > 0 && layers[^1] is Softmax;
        if (softmax) layers.RemoveAt(layers.Count - 1);
        if (model.InputShape.Length != 3) return null;
        int channels = model.InputShape[0], height = model.InputShape[1], width = model.InputShape[2];

        // Conv blocks: find them first, so each knows the border its output needs (the next convolution's padding).
        var blocks = new List<(Conv2D Conv, BatchNorm? Norm, bool Relu, bool Pool)>();
        int i = 0;
        while (i < layers.Count && layers[i] is Conv2D conv)
        {
            i++;
            var norm = i < layers.Count && layers[i] is BatchNorm2D bn ? bn : null;
            if (norm is not null) i++;
            bool relu = i < layers.Count && layers[i] is ReLU;
            if (relu) i++;
            bool pool = i < layers.Count && layers[i] is MaxPool2D { KernelSize: 2, Stride: 2 };
            if (pool) i++;
            blocks.Add((conv, norm, relu, pool));
        }
        if (blocks.Count > 0 && (i >= layers.Count || layers[i] is not Flatten)) return null;
        if (blocks.Count == 0 && (layers.Count == 0 || layers[0] is not Flatten)) return null;
        i++;   // Flatten
        var linears = new List<(Linear Linear, BatchNorm? Norm, bool Relu)>();
        while (i < layers.Count && layers[i] is Linear linear)
        {
            i++;
            var norm = i < layers.Count && layers[i] is BatchNorm1D bn ? bn : null;
            if (norm is not null) i++;
            bool relu = i < layers.Count && layers[i] is ReLU;
            if (relu) i++;
            linears.Add((linear, norm, relu));
        }
        if (i != layers.Count || linears.Count == 0) return null;

        var passes = new List<Pass>();
        int border = blocks.Count > 0 ? blocks[0].Conv.Geometry.Padding : 0;
        // The first input: channels-last with the first convolution's border, or the image as it comes (CHW) for a Linear.
        int rowStride = (width + 2 * border) * channels, pixelStride = channels;
        var first = blocks.Count > 0 ? Pinned((height + 2 * border) * rowStride) : Pinned(channels * height * width);
        var current = first;
        int currentChannels = channels, currentPadded = channels;
        for (int b = 0; b < blocks.Count; b++)
        {
            var (conv, norm, relu, pool) = blocks[b];
            var g = conv.Geometry;
            int oc = conv.OutChannels, ocPadded = ChannelsLastConvolution.PaddedChannels(oc);
            int outHeight = pool ? g.OutputHeight / 2 : g.OutputHeight, outWidth = pool ? g.OutputWidth / 2 : g.OutputWidth;
            int nextBorder = b + 1 < blocks.Count ? blocks[b + 1].Conv.Geometry.Padding : 0;
            int outRowStride = (outWidth + 2 * nextBorder) * ocPadded;
            var next = Pinned((outHeight + 2 * nextBorder) * outRowStride);
            var packed = Pinned(ChannelsLastConvolution.PackedSize(oc, g.Channels, g.Kernel));
            ChannelsLastConvolution.PackWeights(conv.Weight.Value.Span, oc, g.Channels, g.Kernel, packed);
            var (scale, shift) = ScaleShift(conv.Bias, norm, oc, ocPadded);
            passes.Add(new ConvolutionPass(conv.ToString(), current, rowStride, pixelStride, currentChannels, packed, oc, g, scale, shift,
                                           relu ? Activation.ReLU : Activation.None, pool, next, nextBorder * outRowStride + nextBorder * ocPadded,
                                           outRowStride, ocPadded));
            (current, rowStride, pixelStride, currentChannels, currentPadded, height, width) = (next, outRowStride, ocPadded, oc, ocPadded, outHeight, outWidth);
        }
        // The first Linear reads the flat activations: channels-last [H, W, Cp] after convolutions, where PyTorch's
        // Flatten order is [C, H, W]: its weight columns are permuted (and zero for the padded channels).
        int[] columns = blocks.Count > 0 ? new int[height * width * currentPadded] : Enumerable.Range(0, channels * height * width).ToArray();
        if (blocks.Count > 0)
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    for (int c = 0; c < currentPadded; c++)
                        columns[(y * width + x) * currentPadded + c] = c < currentChannels ? (c * height + y) * width + x : -1;
        for (int l = 0; l < linears.Count; l++)
        {
            var (linear, norm, relu) = linears[l];
            int outFeatures = linear.Weight.Value[0], inFeatures = linear.Weight.Value[1];
            if (l > 0) columns = Enumerable.Range(0, inFeatures).ToArray();
            else if (columns.Count(column => column >= 0) != inFeatures) return null;
            int padded = PackedGemv.PaddedOutputs(outFeatures);
            var packed = Pinned(padded * columns.Length);
            PackedGemv.PackWeights(linear.Weight.Value.Span, outFeatures, inFeatures, columns, packed);
            var (scale, shift) = ScaleShift(linear.Bias, norm, outFeatures, padded);
            var next = Pinned(padded);
            passes.Add(new LinearPass(linear.ToString(), current, columns.Length, packed, scale, shift, relu ? Activation.ReLU : Activation.None, next, padded));
            current = next;
        }
        int classes = linears[^1].Linear.Weight.Value[0];
        return new LatencyPlan(passes.ToArray(), first, blocks.Count > 0 ? (model.InputShape[2] + 2 * border) * channels : 0, channels, channels,
                               model.InputShape[1], model.InputShape[2], border, blocks.Count > 0, current, classes, softmax, model.InputShape.ToArray());
    }

    /// <summary>Per output channel: scale and shift of the folded BatchNorm (with the bias), or 1 and the bias; padded with zeros.</summary>
    static (float[] Scale, float[] Shift) ScaleShift(Parameter? bias, BatchNorm? norm, int channels, int padded)
    {
        var scale = Pinned(padded);
        var shift = Pinned(padded);
        if (norm is not null)
            BatchNormalization.FoldIntoScaleShift(norm.Weight.Value.Span, norm.Bias.Value.Span, norm.RunningMean.Span, norm.RunningVariance.Span,
                                                  bias is null ? default : bias.Value.Span, channels, norm.Epsilon, scale, shift);
        else
        {
            scale.AsSpan(0, channels).Fill(1);
            bias?.Value.Span.CopyTo(shift);
        }
        return (scale, shift);
    }

    static float[] Pinned(int length) => GC.AllocateArray<float>(Math.Max(length, 1) + 16, pinned: true);

    /// <summary>The model's output for [N, C, H, W] (probabilities with a final Softmax, else the logits), image by image; [N, classes], reused by the next call.</summary>
    public Tensor Forward(Tensor images)
    {
        if (images.Rank != sampleShape.Length + 1 || !images.Shape[1..].SequenceEqual(sampleShape))
            throw new ShapeException($"model input: expected {Tensor.ShapeString([-1, .. sampleShape])}, got {Tensor.ShapeString(images.Shape)}");
        int count = images[0], imageSize = inputChannels * inputHeight * inputWidth;
        var result = Tensor.Reuse(ref output, [count, classes]);
        var kernel = GemmTuning.Current.Kernel;
        for (int n = 0; n < count; n++)
        {
            LoadImage(images.Span.Slice(n * imageSize, imageSize));
            foreach (var pass in passes) pass.Run(kernel);
            var row = result.Span.Slice(n * classes, classes);
            if (softmax) TensorPrimitives.SoftMax(logits.AsSpan(0, classes), row);
            else logits.AsSpan(0, classes).CopyTo(row);
        }
        return result;
    }

    /// <summary>CHW into the first pass's input: channels-last inside the zero border, or as it is.</summary>
    void LoadImage(ReadOnlySpan<float> image)
    {
        if (!channelsLastInput) { image.CopyTo(input); return; }
        int plane = inputHeight * inputWidth;
        for (int y = 0; y < inputHeight; y++)
        {
            var row = input.AsSpan((y + inputBorder) * inputRowStride + inputBorder * inputPixelStride, inputWidth * inputPixelStride);
            if (inputChannels == 1) image.Slice(y * inputWidth, inputWidth).CopyTo(row);
            else
                for (int x = 0; x < inputWidth; x++)
                    for (int c = 0; c < inputChannels; c++) row[x * inputChannels + c] = image[c * plane + y * inputWidth + x];
        }
    }

    public override string ToString() => string.Join(" -> ", passes.Select(p => p.Name));

    /// <summary>One pass over the image: <see cref="Items"/> independent pieces (rows, groups) that workers may split.</summary>
    public abstract class Pass(string name, int items, long work)
    {
        public string Name { get; } = name;
        public int Items { get; } = items;
        /// <summary>Multiply-adds of the whole pass.</summary>
        public long Work { get; } = work;
        GemmKernel kernel;
        Action<int, int, int>? body;

        /// <summary>The whole pass, split over the workers when it is big enough.</summary>
        public void Run(GemmKernel kernel)
        {
            this.kernel = kernel;
            if (Threads.Count > 1 && Items > 1 && Work >= ParallelMinimumWork) Threads.ForRanges(Items, body ??= (_, start, end) => Run(this.kernel, start, end));
            else Run(kernel, 0, Items);
        }

        /// <summary>Items [start, end) by the given kernel.</summary>
        public abstract void Run(GemmKernel kernel, int start, int end);
    }

    /// <summary>A convolution (folded scale and shift, activation) in channels-last layout, its 2x2 pooling in the same rows; items: output rows (pooled rows).</summary>
    sealed class ConvolutionPass : Pass
    {
        readonly float[] x, packed, scale, shift, y, scratch;
        readonly int xRowStride, xPixelStride, channels, outChannels, yOffset, yRowStride, yPixelStride;
        readonly ConvGeometry g;
        readonly Activation activation;
        readonly bool pool;

        public ConvolutionPass(string name, float[] x, int xRowStride, int xPixelStride, int channels, float[] packed, int outChannels, ConvGeometry g,
            float[] scale, float[] shift, Activation activation, bool pool, float[] y, int yOffset, int yRowStride, int yPixelStride)
            : base(name, pool ? g.OutputHeight / 2 : g.OutputHeight, (long)g.OutputPixels * outChannels * channels * g.Kernel * g.Kernel)
        {
            (this.x, this.xRowStride, this.xPixelStride, this.channels, this.packed, this.outChannels, this.g) = (x, xRowStride, xPixelStride, channels, packed, outChannels, g);
            (this.scale, this.shift, this.activation, this.pool, this.y, this.yOffset, this.yRowStride, this.yPixelStride) =
                (scale, shift, activation, pool, y, yOffset, yRowStride, yPixelStride);
            scratch = pool ? Pinned(g.OutputHeight * g.OutputWidth * ChannelsLastConvolution.PaddedChannels(outChannels)) : [];
        }

        public override void Run(GemmKernel kernel, int start, int end)
        {
            int ow = g.OutputWidth, padded = ChannelsLastConvolution.PaddedChannels(outChannels);
            fixed (float* px = x, pw = packed, ps = scale, ph = shift, py = y, pt = scratch)
            {
                if (!pool)
                {
                    ChannelsLastConvolution.Forward(kernel, px, xRowStride, xPixelStride, channels, pw, outChannels, g.Kernel, g.Stride, ow,
                                                    start * ow, end * ow, ps, ph, activation, py + yOffset, yRowStride, yPixelStride);
                    return;
                }
                ChannelsLastConvolution.Forward(kernel, px, xRowStride, xPixelStride, channels, pw, outChannels, g.Kernel, g.Stride, ow,
                                                2 * start * ow, 2 * end * ow, ps, ph, activation, pt, ow * padded, padded);
                ChannelsLastConvolution.MaxPool2x2(kernel, pt, ow * padded, padded, padded, ow / 2, start, end, py + yOffset, yRowStride, yPixelStride);
            }
        }
    }

    /// <summary>A Linear (folded scale and shift, activation) as a packed matrix-vector product; items: groups of 64 outputs.</summary>
    sealed class LinearPass(string name, float[] x, int k, float[] packed, float[] scale, float[] shift, Activation activation, float[] y, int outputs)
        : Pass(name, outputs / PackedGemv.Group, (long)k * outputs)
    {
        public override void Run(GemmKernel kernel, int start, int end)
        {
            fixed (float* px = x, pw = packed, ps = scale, ph = shift, py = y)
                PackedGemv.Forward(kernel, px, pw, k, ps, ph, activation, start, end, py);
        }
    }
}

using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Ongko.Kernels;
using Ongko.Layers;
using Ongko.Tensors;

namespace Ongko.Models;

/// <summary>
/// A model's evaluation compiled once, with its weights, for inference (prediction, <c>ongko bench</c>): image by image
/// through a few passes, where a batched plan's GEMMs are narrow at batch 1 and its fixed costs dominate:
/// <list type="bullet">
/// <item>each convolution (with its folded BatchNorm, bias, ReLU and a 2x2 stride-2 max pooling after it) is a direct
///   convolution in channels-last layout (<see cref="ChannelsLastConvolution"/>) whose output lands in the next layer's
///   zero-bordered input: no im2col copy, no padding pass, no per-call packing;</item>
/// <item>each Linear (with its folded BatchNorm1D and ReLU) is a packed matrix-vector product (<see cref="PackedGemv"/>),
///   or from <see cref="BatchGemmMinimum"/> images on over the whole batch at once (<see cref="PackedGemv.ForwardRows"/>); the first one reads the channels-last
///   activations through a permutation of its weight columns, so Flatten is free;</item>
/// <item>Dropout is skipped and a final Softmax applied to the logits.</item>
/// </list>
/// The weights, the folded scales and shifts are copies taken by <see cref="TryCompile"/>: compile again after the
/// weights change. Fewer images than workers (<see cref="Threads.Count"/>): each pass whose work pays for the hand-off is
/// split over the workers by output rows or output groups; more: the images are split over the workers (one workspace
/// each). Each output is computed the same way either way, so results do not depend on the thread count. The kernel
/// (AVX-512, AVX2 or scalar) is the calling thread's <see cref="GemmTuning.Kernel"/>. One call at a time per plan.
/// </summary>
public sealed unsafe class InferencePlan
{
    readonly Pass[] convolutions;
    readonly LinearPass[] linears;
    readonly Pass[] passes;          // convolutions, then linears
    readonly int[] bufferSizes;      // one workspace: [0] the first input, then each pass's output (and a pooling pass's scratch)
    Workspace[] workspaces = [];     // one per worker
    readonly int inputRowStride, inputPixelStride, inputChannels, inputHeight, inputWidth, inputBorder;
    readonly bool channelsLastInput;
    readonly int classes, flatBuffer, flatLength, logitsBuffer;
    readonly bool softmax;
    readonly int[] sampleShape;
    float[] batchInput = [];         // batch mode: the flat activations of every image [N, K] for the first Linear
    float[][] batchOutputs = [];     // batch mode: each Linear's outputs [N, O]
    Tensor? output, images;
    GemmKernel kernel;
    Action<int, int, int>? imagesBody;

    /// <summary>Multiply-adds below which a pass runs on the calling thread (waking a worker costs about as much); tests set it per thread.</summary>
    internal static long ParallelMinimumWork { get => parallelMinimumWork ?? 150_000; set => parallelMinimumWork = value; }
    [ThreadStatic] static long? parallelMinimumWork;

    /// <summary>3x3 stride-1 convolutions with at least this many input channels (and whole vectors of them) run by Winograd F(2x2, 3x3) (measured: 16 were slower than the direct loops, its 16 products too short).</summary>
    public const int WinogradMinChannels = 32;

    /// <summary>Whether TryCompile may choose Winograd (tests compile both ways); per thread.</summary>
    internal static bool WinogradEnabled { get => winogradEnabled ?? true; set => winogradEnabled = value; }
    [ThreadStatic] static bool? winogradEnabled;

    /// <summary>From this many images on, the Linear layers run over the whole batch (8 rows per pass over the weights) instead of image by image.</summary>
    internal static int BatchGemmMinimum { get => batchGemmMinimum ?? 8; set => batchGemmMinimum = value; }
    [ThreadStatic] static int? batchGemmMinimum;

    InferencePlan(Pass[] convolutions, LinearPass[] linears, int[] bufferSizes, int rowStride, int pixelStride, int channels, int height,
                int width, int border, bool channelsLast, int flatBuffer, int flatLength, int logitsBuffer, int classes, bool softmax, int[] sampleShape)
    {
        (this.convolutions, this.linears, this.bufferSizes) = (convolutions, linears, bufferSizes);
        passes = [.. convolutions, .. linears];
        (inputRowStride, inputPixelStride, inputChannels, inputHeight, inputWidth, inputBorder, channelsLastInput) =
            (rowStride, pixelStride, channels, height, width, border, channelsLast);
        (this.flatBuffer, this.flatLength, this.logitsBuffer, this.classes, this.softmax, this.sampleShape) =
            (flatBuffer, flatLength, logitsBuffer, classes, softmax, sampleShape);
        EnsureWorkspaces(1);
    }

    /// <summary>The passes of one image, for profiles and tests.</summary>
    public IReadOnlyList<Pass> Passes => passes;

    /// <summary>
    /// Compiles a built model's evaluation: Conv2D [BatchNorm2D] [ReLU] [MaxPool2D(2, 2)] blocks, then Flatten and Linear
    /// [BatchNorm1D] [ReLU] blocks, Dropout anywhere, an optional final Softmax. Null for any other layer sequence (the
    /// model's <see cref="Sequential.EvaluationPlan"/> runs those).
    /// </summary>
    public static InferencePlan? TryCompile(Sequential model)
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
        var linearLayers = new List<(Linear Linear, BatchNorm? Norm, bool Relu)>();
        while (i < layers.Count && layers[i] is Linear linear)
        {
            i++;
            var norm = i < layers.Count && layers[i] is BatchNorm1D bn ? bn : null;
            if (norm is not null) i++;
            bool relu = i < layers.Count && layers[i] is ReLU;
            if (relu) i++;
            linearLayers.Add((linear, norm, relu));
        }
        if (i != layers.Count || linearLayers.Count == 0) return null;

        var bufferSizes = new List<int>();
        int border = blocks.Count > 0 ? blocks[0].Conv.Geometry.Padding : 0;
        // The first input: channels-last with the first convolution's border, or the image as it comes (CHW) for a Linear.
        int rowStride = (width + 2 * border) * channels, pixelStride = channels;
        bufferSizes.Add(blocks.Count > 0 ? (height + 2 * border) * rowStride : channels * height * width);
        int current = 0, currentChannels = channels, currentPadded = channels;
        var convolutions = new List<Pass>();
        for (int b = 0; b < blocks.Count; b++)
        {
            var (conv, norm, relu, pool) = blocks[b];
            var g = conv.Geometry;
            int oc = conv.OutChannels, ocPadded = ChannelsLastConvolution.PaddedChannels(oc);
            int outHeight = pool ? g.OutputHeight / 2 : g.OutputHeight, outWidth = pool ? g.OutputWidth / 2 : g.OutputWidth;
            int nextBorder = b + 1 < blocks.Count ? blocks[b + 1].Conv.Geometry.Padding : 0;
            int outRowStride = (outWidth + 2 * nextBorder) * ocPadded;
            int next = bufferSizes.Count;
            bufferSizes.Add((outHeight + 2 * nextBorder) * outRowStride);
            var (scale, shift) = ScaleShift(conv.Bias, norm, oc, ocPadded);
            var activation = relu ? Activation.ReLU : Activation.None;
            int yOffset = nextBorder * outRowStride + nextBorder * ocPadded;
            if (WinogradEnabled && g.Channels >= WinogradMinChannels && g.Padding == 1 && ChannelsLastWinograd.Supports(g, pixelStride, pool))
            {
                int tilesHigh = g.OutputHeight / 2, tilesWide = g.OutputWidth / 2;
                int work = bufferSizes.Count;
                bufferSizes.Add(ChannelsLastWinograd.WorkSize(tilesHigh * tilesWide, pixelStride, oc));
                var u = Pinned(ChannelsLastWinograd.PackedSize(oc, g.Channels));
                ChannelsLastWinograd.TransformWeights(conv.Weight.Value.Span, oc, g.Channels, u);
                convolutions.Add(new WinogradPass(conv.ToString(), current, rowStride, pixelStride, g, u, oc, tilesWide, tilesHigh, scale, shift,
                                                  activation, pool, work, next, yOffset, outRowStride, ocPadded));
            }
            else
            {
                var packed = Pinned(ChannelsLastConvolution.PackedSize(oc, g.Channels, g.Kernel));
                ChannelsLastConvolution.PackWeights(conv.Weight.Value.Span, oc, g.Channels, g.Kernel, packed);
                convolutions.Add(new ConvolutionPass(conv.ToString(), current, rowStride, pixelStride, currentChannels, packed, oc, g, scale, shift,
                                                     activation, pool, next, yOffset, outRowStride, ocPadded));
            }
            (current, rowStride, pixelStride, currentChannels, currentPadded, height, width) = (next, outRowStride, ocPadded, oc, ocPadded, outHeight, outWidth);
        }
        // The first Linear reads the flat activations: channels-last [H, W, Cp] after convolutions, where PyTorch's
        // Flatten order is [C, H, W]: its weight columns are permuted (and zero for the padded channels).
        int flat = current;
        int[] columns = blocks.Count > 0 ? new int[height * width * currentPadded] : Enumerable.Range(0, channels * height * width).ToArray();
        if (blocks.Count > 0)
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    for (int c = 0; c < currentPadded; c++)
                        columns[(y * width + x) * currentPadded + c] = c < currentChannels ? (c * height + y) * width + x : -1;
        int flatLength = columns.Length;
        var linears = new List<LinearPass>();
        for (int l = 0; l < linearLayers.Count; l++)
        {
            var (linear, norm, relu) = linearLayers[l];
            int outFeatures = linear.Weight.Value[0], inFeatures = linear.Weight.Value[1];
            if (l > 0) columns = Enumerable.Range(0, inFeatures).ToArray();
            else if (columns.Count(column => column >= 0) != inFeatures) return null;
            int padded = PackedGemv.PaddedOutputs(outFeatures);
            var packed = Pinned(padded * columns.Length);
            PackedGemv.PackWeights(linear.Weight.Value.Span, outFeatures, inFeatures, columns, packed);
            var (scale, shift) = ScaleShift(linear.Bias, norm, outFeatures, padded);
            int next = bufferSizes.Count;
            bufferSizes.Add(padded);
            linears.Add(new LinearPass(linear.ToString(), current, columns.Length, packed, outFeatures, scale, shift,
                                       relu ? Activation.ReLU : Activation.None, next, padded));
            current = next;
        }
        int classes = linearLayers[^1].Linear.Weight.Value[0];
        return new InferencePlan(convolutions.ToArray(), linears.ToArray(), bufferSizes.ToArray(), blocks.Count > 0 ? (model.InputShape[2] + 2 * border) * channels : 0,
                               channels, channels, model.InputShape[1], model.InputShape[2], border, blocks.Count > 0, flat, flatLength, current, classes,
                               softmax, model.InputShape.ToArray());
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

    /// <summary>One worker's buffers for one image (zero borders stay zero: only interiors are written).</summary>
    public sealed class Workspace(int[] sizes)
    {
        public readonly float[][] Buffers = sizes.Select(Pinned).ToArray();
    }

    void EnsureWorkspaces(int count)
    {
        if (workspaces.Length >= count) return;
        var grown = new Workspace[count];
        workspaces.CopyTo(grown, 0);
        for (int i = workspaces.Length; i < count; i++) grown[i] = new Workspace(bufferSizes);
        workspaces = grown;
    }

    /// <summary>
    /// The model's output for [N, C, H, W] (probabilities with a final Softmax, else the logits); [N, classes], reused by the
    /// next call. Fewer images than workers: one image at a time, each pass split over the workers; more: the images split
    /// over the workers, and from <see cref="BatchGemmMinimum"/> images on the Linear layers over the whole batch at once
    /// (8 rows per pass over the weights; results then differ from the image-by-image ones at rounding level).
    /// </summary>
    public Tensor Forward(Tensor images)
    {
        if (images.Rank != sampleShape.Length + 1 || !images.Shape[1..].SequenceEqual(sampleShape))
            throw new ShapeException($"model input: expected {Tensor.ShapeString([-1, .. sampleShape])}, got {Tensor.ShapeString(images.Shape)}");
        int count = images[0];
        var result = Tensor.Reuse(ref output, [count, classes]);
        kernel = GemmTuning.Current.Kernel;
        this.images = images;
        try
        {
            if (count < Math.Max(2, Threads.Count))
                for (int n = 0; n < count; n++)
                {
                    var workspace = workspaces[0];
                    LoadImage(n, workspace);
                    foreach (var pass in passes) pass.Run(kernel, workspace);
                    Output(n, workspace.Buffers[logitsBuffer]);
                }
            else
            {
                EnsureWorkspaces(Threads.WorkerCount(count));
                bool batchGemm = count >= BatchGemmMinimum;
                if (batchGemm) EnsureBatch(count);
                Threads.ForRanges(count, imagesBody ??= RunImages);
                if (batchGemm) RunBatchLinears(count);
            }
        }
        finally { this.images = null; }
        return result;
    }

    /// <summary>Images [start, end) on one worker, each pass whole; in batch mode only the convolutions (the flat activations into the batch matrix).</summary>
    void RunImages(int worker, int start, int end)
    {
        var workspace = workspaces[worker];
        bool batchGemm = images![0] >= BatchGemmMinimum;
        for (int n = start; n < end; n++)
        {
            LoadImage(n, workspace);
            foreach (var pass in convolutions) pass.Run(kernel, workspace, 0, pass.Items);
            if (batchGemm)
            {
                workspace.Buffers[flatBuffer].AsSpan(0, flatLength).CopyTo(batchInput.AsSpan(n * flatLength, flatLength));
                continue;
            }
            foreach (var pass in linears) pass.Run(kernel, workspace, 0, pass.Items);
            Output(n, workspace.Buffers[logitsBuffer]);
        }
    }

    void EnsureBatch(int count)
    {
        if (batchInput.Length < count * flatLength) batchInput = Pinned(count * flatLength);
        if (batchOutputs.Length == 0 || batchOutputs[0].Length < count * linears[0].Padded)
            batchOutputs = linears.Select(pass => Pinned(count * pass.Padded)).ToArray();
    }

    /// <summary>
    /// Batch mode: each Linear over all rows at once (<see cref="PackedGemv.ForwardRows"/>: 8 rows per pass over a group's packed
    /// weights), the groups split over the workers.
    /// </summary>
    void RunBatchLinears(int count)
    {
        batchRows = count;
        for (batchLayer = 0; batchLayer < linears.Length; batchLayer++)
        {
            var pass = linears[batchLayer];
            if (Threads.Count > 1 && pass.Items > 1) Threads.ForRanges(pass.Items, batchLinearBody ??= RunBatchLinear);
            else RunBatchLinear(0, 0, pass.Items);
        }
        for (int n = 0; n < count; n++) Output(n, batchOutputs[^1].AsSpan(n * linears[^1].Padded, classes));
    }

    int batchRows, batchLayer;
    Action<int, int, int>? batchLinearBody;

    void RunBatchLinear(int worker, int start, int end)
    {
        var x = batchLayer == 0 ? batchInput : batchOutputs[batchLayer - 1];
        int ldx = batchLayer == 0 ? flatLength : linears[batchLayer - 1].Padded;
        fixed (float* px = x, py = batchOutputs[batchLayer])
            linears[batchLayer].RunRows(kernel, px, batchRows, ldx, start, end, py);
    }

    /// <summary>Image n's logits (softmax applied where the model ends with one) into row n of the output.</summary>
    void Output(int n, ReadOnlySpan<float> logits)
    {
        var row = output!.Span.Slice(n * classes, classes);
        if (softmax) TensorPrimitives.SoftMax(logits[..classes], row);
        else logits[..classes].CopyTo(row);
    }

    /// <summary>Image n (CHW) into the first pass's input: channels-last inside the zero border, or as it is.</summary>
    void LoadImage(int n, Workspace workspace)
    {
        int plane = inputHeight * inputWidth, imageSize = inputChannels * plane;
        var image = images!.Span.Slice(n * imageSize, imageSize);
        var input = workspace.Buffers[0];
        if (!channelsLastInput) { image.CopyTo(input); return; }
        fixed (float* source = image, destination = input)
            for (int y = 0; y < inputHeight; y++)
            {
                float* row = destination + (y + inputBorder) * inputRowStride + inputBorder * inputPixelStride;
                if (inputChannels == 1) { new ReadOnlySpan<float>(source + y * inputWidth, inputWidth).CopyTo(new Span<float>(row, inputWidth)); continue; }
                for (int c = 0; c < inputChannels; c++)
                {
                    float* from = source + c * plane + y * inputWidth, to = row + c;
                    for (int x = 0; x < inputWidth; x++, to += inputChannels) *to = from[x];
                }
            }
    }

    /// <summary>Runs one pass of the image in the first workspace (profiles).</summary>
    public void RunPass(int index) => passes[index].Run(GemmTuning.Current.Kernel, workspaces[0]);

    public override string ToString() => string.Join(" -> ", passes.Select(p => p.Name));

    /// <summary>One pass over an image: <see cref="Items"/> independent pieces (rows, groups) that workers may split.</summary>
    public abstract class Pass(string name, int items, long work)
    {
        public string Name { get; } = name;
        public int Items { get; } = items;
        /// <summary>Multiply-adds of the whole pass.</summary>
        public long Work { get; } = work;
        GemmKernel kernel;
        Workspace? workspace;
        Action<int, int, int>? body;

        /// <summary>The whole pass on one image, split over the workers when it is big enough.</summary>
        public void Run(GemmKernel kernel, Workspace workspace)
        {
            if (Threads.Count > 1 && Items > 1 && Work >= ParallelMinimumWork)
            {
                (this.kernel, this.workspace) = (kernel, workspace);
                Threads.ForRanges(Items, body ??= (_, start, end) => Run(this.kernel, this.workspace!, start, end));
            }
            else Run(kernel, workspace, 0, Items);
        }

        /// <summary>Items [start, end) by the given kernel.</summary>
        public abstract void Run(GemmKernel kernel, Workspace workspace, int start, int end);
    }

    /// <summary>A convolution (folded scale and shift, activation) in channels-last layout, and its 2x2 pooling in the same tiles; items: output rows (pooled rows).</summary>
    sealed class ConvolutionPass : Pass
    {
        readonly float[] packed, scale, shift;
        readonly int input, xRowStride, xPixelStride, channels, outChannels, output, yOffset, yRowStride, yPixelStride;
        readonly ConvGeometry g;
        readonly Activation activation;
        readonly bool pool;

        public ConvolutionPass(string name, int input, int xRowStride, int xPixelStride, int channels, float[] packed, int outChannels, ConvGeometry g,
            float[] scale, float[] shift, Activation activation, bool pool, int output, int yOffset, int yRowStride, int yPixelStride)
            : base(name, pool ? g.OutputHeight / 2 : g.OutputHeight, (long)g.OutputPixels * outChannels * channels * g.Kernel * g.Kernel)
        {
            (this.input, this.xRowStride, this.xPixelStride, this.channels, this.packed, this.outChannels, this.g) = (input, xRowStride, xPixelStride, channels, packed, outChannels, g);
            (this.scale, this.shift, this.activation, this.pool, this.output, this.yOffset, this.yRowStride, this.yPixelStride) =
                (scale, shift, activation, pool, output, yOffset, yRowStride, yPixelStride);
        }

        public override void Run(GemmKernel kernel, Workspace workspace, int start, int end)
        {
            var buffers = workspace.Buffers;
            fixed (float* px = buffers[input], pw = packed, ps = scale, ph = shift, py = buffers[output])
                if (pool)
                    ChannelsLastConvolution.ForwardPooled(kernel, px, xRowStride, xPixelStride, channels, pw, outChannels, g.Kernel, g.Stride, g.OutputWidth / 2,
                                                          start, end, ps, ph, activation, py + yOffset, yRowStride, yPixelStride);
                else
                    ChannelsLastConvolution.Forward(kernel, px, xRowStride, xPixelStride, channels, pw, outChannels, g.Kernel, g.Stride, g.OutputWidth,
                                                    start * g.OutputWidth, end * g.OutputWidth, ps, ph, activation, py + yOffset, yRowStride, yPixelStride);
        }
    }

    /// <summary>A 3x3 convolution by Winograd F(2x2, 3x3) in channels-last layout, its pooling in the output transform; items: output tiles.</summary>
    sealed class WinogradPass : Pass
    {
        readonly float[] u, scale, shift, ones, zeros;
        readonly int input, xRowStride, xPixelStride, channels, outChannels, tilesWide, tilesHigh, work, output, yOffset, yRowStride, yPixelStride;
        readonly Activation activation;
        readonly bool pool;

        public WinogradPass(string name, int input, int xRowStride, int xPixelStride, ConvGeometry g, float[] u, int outChannels, int tilesWide, int tilesHigh,
            float[] scale, float[] shift, Activation activation, bool pool, int work, int output, int yOffset, int yRowStride, int yPixelStride)
            : base(name + " [Winograd]", tilesWide * tilesHigh, 16L * tilesWide * tilesHigh * g.Channels * outChannels)
        {
            (this.input, this.xRowStride, this.xPixelStride, channels, this.u, this.outChannels, this.tilesWide, this.tilesHigh) =
                (input, xRowStride, xPixelStride, g.Channels, u, outChannels, tilesWide, tilesHigh);
            (this.scale, this.shift, this.activation, this.pool, this.work, this.output, this.yOffset, this.yRowStride, this.yPixelStride) =
                (scale, shift, activation, pool, work, output, yOffset, yRowStride, yPixelStride);
            int padded = ChannelsLastConvolution.PaddedChannels(outChannels);
            ones = Pinned(padded);
            ones.AsSpan().Fill(1);
            zeros = Pinned(padded);
        }

        public override void Run(GemmKernel kernel, Workspace workspace, int start, int end)
        {
            var buffers = workspace.Buffers;
            fixed (float* px = buffers[input], pu = u, po = ones, pz = zeros, ps = scale, ph = shift, pw = buffers[work], py = buffers[output])
                ChannelsLastWinograd.Forward(kernel, px, xRowStride, xPixelStride, channels, pu, outChannels, tilesWide, tilesHigh, start, end,
                                             po, pz, ps, ph, activation, pool, pw, py + yOffset, yRowStride, yPixelStride);
        }
    }

    /// <summary>A Linear (folded scale and shift, activation) as a packed matrix-vector product; items: groups of 64 outputs.</summary>
    sealed class LinearPass(string name, int input, int k, float[] packed, int outputs, float[] scale, float[] shift,
                            Activation activation, int output, int padded)
        : Pass(name, padded / PackedGemv.Group, (long)k * padded)
    {
        public int Outputs => outputs;
        public int Padded => padded;

        public override void Run(GemmKernel kernel, Workspace workspace, int start, int end)
        {
            fixed (float* px = workspace.Buffers[input], pw = packed, ps = scale, ph = shift, py = workspace.Buffers[output])
                PackedGemv.Forward(kernel, px, pw, k, ps, ph, activation, start, end, py);
        }

        /// <summary>Groups [start, end) for <paramref name="rows"/> inputs <paramref name="ldx"/> apart into outputs <see cref="Padded"/> apart.</summary>
        public void RunRows(GemmKernel kernel, float* x, int rows, int ldx, int start, int end, float* y)
        {
            fixed (float* pw = packed, ps = scale, ph = shift)
                PackedGemv.ForwardRows(kernel, x, rows, ldx, pw, k, ps, ph, activation, start, end, y, padded);
        }
    }
}

using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Ongko.Kernels;
using Ongko.Tensors;

namespace Ongko.Layers;

/// <summary>
/// y = max(x, 0); δx = δy where y > 0. After a <see cref="BatchNorm"/> or a <see cref="Conv2D"/> it may be fused
/// into that layer (Sequential.Build pairs them): its input is then already rectified and that layer masks the
/// gradient, so this layer passes both through.
/// </summary>
public sealed class ReLU : Layer
{
    Tensor? output, δinput;
    IRectifyingLayer? fusedInto;
    bool passedThrough;   // the last Forward returned its (already rectified) input

    internal void FuseAfter(IRectifyingLayer layer) => fusedInto = layer;

    public override string Kind => "ReLU";
    public override string Arguments => "";
    public override int[] Build(int[] sampleShape, Rng rng) => sampleShape;

    public override Tensor Forward(Tensor input, bool training)
    {
        // Only the fused BatchNorm's own rectified output passes through; any other input is computed as usual.
        passedThrough = fusedInto is not null && ReferenceEquals(input, fusedInto.RectifiedOutput);
        if (passedThrough) return input;
        var output = Tensor.Reuse(ref this.output, input.Shape);
        this.input = input;
        Threads.ForRanges(Chunks(output.Length), forwardChunks ??= ForwardChunks);
        this.input = null;
        return output;
    }

    // Elementwise work is split over the cores in chunks of this many values (large tensors only).
    const int ChunkSize = 1 << 15;
    static int Chunks(int length) => (length + ChunkSize - 1) / ChunkSize;
    Tensor? input, δoutputSeen;
    Action<int, int, int>? forwardChunks, backwardChunks;   // cached: a dispatch allocates nothing

    void ForwardChunks(int worker, int start, int end)
    {
        int length = output!.Length, from = start * ChunkSize, to = Math.Min(length, end * ChunkSize);
        TensorPrimitives.Max(input!.Data.AsSpan(from, to - from), 0f, output.Data.AsSpan(from, to - from));
    }

    void BackwardChunks(int worker, int start, int end)
    {
        int length = output!.Length, from = start * ChunkSize, to = Math.Min(length, end * ChunkSize);
        Mask(output.Data.AsSpan(from, to - from), δoutputSeen!.Data.AsSpan(from, to - from), δinput!.Data.AsSpan(from, to - from));
    }

    public override Tensor Backward(Tensor δoutput)
    {
        if (passedThrough) return δoutput;   // the fused BatchNorm masks it by y > 0
        var y = output ?? throw new InvalidOperationException("ReLU: Backward before Forward");
        if (!δoutput.SameShape(y)) throw ShapeError("δoutput", y.Shape, δoutput.Shape);
        var δinput = Tensor.Reuse(ref this.δinput, y.Shape);
        δoutputSeen = δoutput;
        Threads.ForRanges(Chunks(y.Length), backwardChunks ??= BackwardChunks);
        δoutputSeen = null;
        return δinput;
    }

    /// <summary>δx[i] = y[i] > 0 ? δy[i] : 0, a vector at a time.</summary>
    internal static void Mask(ReadOnlySpan<float> y, ReadOnlySpan<float> δy, Span<float> δx)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i <= y.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var mask = Vector.GreaterThan(new Vector<float>(y[i..]), Vector<float>.Zero);
                Vector.ConditionalSelect(mask, new Vector<float>(δy[i..]), Vector<float>.Zero).CopyTo(δx[i..]);
            }
        for (; i < y.Length; i++) δx[i] = y[i] > 0 ? δy[i] : 0;
    }
}

/// <summary>A layer that can apply a following ReLU itself (<see cref="BatchNorm"/>, <see cref="Conv2D"/>).</summary>
internal interface IRectifyingLayer
{
    /// <summary>The output of the last Forward when it was rectified (the fused ReLU passes it through), else null.</summary>
    Tensor? RectifiedOutput { get; }
}

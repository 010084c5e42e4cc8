using Ongko.Kernels;
using Ongko.Tensors;

namespace Ongko.Layers;

/// <summary>
/// y = max(x, 0); δx = δy where y > 0. When it follows a convolution or a batch normalisation the execution plan
/// (Models/ExecutionPlan.cs) hands the activation to that layer's kernel instead and never calls this one.
/// </summary>
public sealed class ReLU : Layer
{
    Tensor? input, output, δoutputSeen, δinput;
    Action<int, int, int>? forwardChunks, backwardChunks;   // cached: a dispatch allocates nothing

    public override string Kind => "ReLU";
    public override string Arguments => "";
    public override int[] Build(int[] sampleShape, Rng rng) => sampleShape;

    public override Tensor Forward(Tensor input, bool training)
    {
        var output = Tensor.Reuse(ref this.output, input.Shape);
        this.input = input;
        Threads.ForRanges(Chunks(output.Length), forwardChunks ??= ForwardChunks);
        this.input = null;
        return output;
    }

    public override Tensor Backward(Tensor δoutput)
    {
        var y = output ?? throw new InvalidOperationException("ReLU: Backward before Forward");
        if (!δoutput.SameShape(y)) throw ShapeError("δoutput", y.Shape, δoutput.Shape);
        var δinput = InputGradient(ref this.δinput, δoutput, y.Shape);
        δoutputSeen = δoutput;
        Threads.ForRanges(Chunks(y.Length), backwardChunks ??= BackwardChunks);
        δoutputSeen = null;
        return δinput;
    }

    // Elementwise work is split over the cores in chunks of this many values (large tensors only).
    const int ChunkSize = 1 << 15;
    static int Chunks(int length) => (length + ChunkSize - 1) / ChunkSize;
    static (int From, int Count) Chunk(int length, int start, int end)
    {
        int from = start * ChunkSize;
        return (from, Math.Min(length, end * ChunkSize) - from);
    }

    void ForwardChunks(int worker, int start, int end)
    {
        var (from, count) = Chunk(output!.Length, start, end);
        Rectifier.Forward(input!.Data.AsSpan(from, count), output.Data.AsSpan(from, count));
    }

    void BackwardChunks(int worker, int start, int end)
    {
        var (from, count) = Chunk(output!.Length, start, end);
        Rectifier.Backward(output.Data.AsSpan(from, count), δoutputSeen!.Data.AsSpan(from, count), δinput!.Data.AsSpan(from, count));
    }
}

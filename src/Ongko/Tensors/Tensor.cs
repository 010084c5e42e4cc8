namespace Ongko.Tensors;

/// <summary>
/// A float32 tensor: one contiguous buffer, row-major, batch first (NCHW for images).
/// The buffer may be longer than the shape needs, so a layer can reuse it when the batch shrinks.
/// </summary>
public sealed class Tensor
{
    float[] data;
    int[] shape;

    public Tensor(params int[] shape)
    {
        this.shape = CheckedShape(shape);
        data = new float[Product(this.shape)];
    }

    public Tensor(float[] data, params int[] shape)
    {
        this.shape = CheckedShape(shape);
        if (data.Length < Product(this.shape))
            throw new ArgumentException($"buffer of {data.Length} floats is too small for shape {ShapeString(shape)}");
        this.data = data;
    }

    /// <summary>The dimensions, outermost first.</summary>
    public ReadOnlySpan<int> Shape => shape;
    public int[] ShapeArray => (int[])shape.Clone();
    public int Rank => shape.Length;
    public int Length => Product(shape);

    /// <summary>The backing array; only the first <see cref="Length"/> floats belong to the tensor.</summary>
    public float[] Data => data;
    public Span<float> Span => data.AsSpan(0, Length);

    public int this[int dimension] => shape[dimension];

    /// <summary>Changes the shape, reusing the buffer when it is big enough (no allocation in steady state).</summary>
    public void Resize(ReadOnlySpan<int> newShape)
    {
        if (newShape.SequenceEqual(shape)) return;
        shape = CheckedShape(newShape.ToArray());
        int needed = Product(shape);
        if (data.Length < needed) data = new float[needed];
    }

    /// <summary>Returns a tensor of the given shape, reusing <paramref name="buffer"/> when possible.</summary>
    public static Tensor Reuse(ref Tensor? buffer, ReadOnlySpan<int> shape)
    {
        if (buffer is null) buffer = new Tensor(shape.ToArray());
        else buffer.Resize(shape);
        return buffer;
    }

    public Tensor Clone() => new(Span.ToArray(), (int[])shape.Clone());

    public void Fill(float value) => Span.Fill(value);
    public void Clear() => Span.Clear();

    public bool SameShape(Tensor other) => Shape.SequenceEqual(other.Shape);

    public static int Product(ReadOnlySpan<int> shape)
    {
        long product = 1;
        foreach (int dimension in shape) product *= dimension;
        if (product > Array.MaxLength) throw new ArgumentException($"shape {ShapeString(shape)} is too large");
        return (int)product;
    }

    public static string ShapeString(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";
    public override string ToString() => $"Tensor{ShapeString(shape)}";

    static int[] CheckedShape(int[] shape)
    {
        foreach (int dimension in shape)
            if (dimension < 0) throw new ArgumentException($"negative dimension in shape {ShapeString(shape)}");
        return shape;
    }
}

using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Ongko.Kernels;

/// <summary>
/// An elementwise function a producing kernel (convolution, batch normalisation) applies to its own output
/// before storing it, so the activation costs no pass of its own. The execution plan chooses it.
/// </summary>
public enum Activation { None, ReLU }

/// <summary>The rectifier as a forward/backward pair, with its plain twins.</summary>
public static class Rectifier
{
    /// <summary>y = max(x, 0).</summary>
    /// <param name="x">[length]</param> <param name="y">[length] (may be x itself)</param>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Max(x, 0f, y);

    /// <summary>δx = δy where y > 0, else 0; y is the rectified output (or the value before rectifying: same mask).</summary>
    /// <param name="y">[length]</param> <param name="δy">[length]</param> <param name="δx">[length] (may be δy itself)</param>
    public static void Backward(ReadOnlySpan<float> y, ReadOnlySpan<float> δy, Span<float> δx)
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

    /// <summary>The plain twin of <see cref="Forward"/> (NaN stays NaN, as in PyTorch).</summary>
    public static void ForwardNaive(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > 0 || float.IsNaN(x[i]) ? x[i] : 0;
    }

    /// <summary>The plain twin of <see cref="Backward"/>.</summary>
    public static void BackwardNaive(ReadOnlySpan<float> y, ReadOnlySpan<float> δy, Span<float> δx)
    {
        for (int i = 0; i < y.Length; i++) δx[i] = y[i] > 0 ? δy[i] : 0;
    }

    /// <summary>Applies <paramref name="activation"/> to <paramref name="y"/> in place (the producing kernels' last pass).</summary>
    public static void Apply(Activation activation, Span<float> y)
    {
        if (activation == Activation.ReLU) Forward(y, y);
    }
}

/// <summary>The last pass of a producing kernel when a batch normalisation is folded into it: y = act(scale·y + shift).</summary>
public static class Epilogue
{
    /// <param name="y">[length], in place</param>
    public static void ScaleShift(Span<float> y, float scale, float shift, Activation activation)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> vScale = new(scale), vShift = new(shift), floor = new(activation == Activation.ReLU ? 0f : float.NegativeInfinity);
            for (; i <= y.Length - Vector<float>.Count; i += Vector<float>.Count)
                Vector.Max(new Vector<float>(y[i..]) * vScale + vShift, floor).CopyTo(y[i..]);
        }
        for (; i < y.Length; i++)
        {
            float value = y[i] * scale + shift;
            y[i] = activation == Activation.ReLU && !(value > 0) ? 0 : value;
        }
    }

    /// <summary>Rows of [N, F]: y[n, f] = act(scale[f]·y[n, f] + shift[f]).</summary>
    /// <param name="y">[N, F], in place</param> <param name="scale">[F]</param> <param name="shift">[F]</param>
    public static void ScaleShiftRows(Span<float> y, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, int batch, Activation activation)
    {
        int features = scale.Length;
        for (int n = 0; n < batch; n++)
        {
            var row = y.Slice(n * features, features);
            TensorPrimitives.MultiplyAdd(row, scale, shift, row);
            Rectifier.Apply(activation, row);
        }
    }
}

using System.Globalization;
using Ongko.Tensors;

namespace Ongko.Tests.Torch;

/// <summary>
/// Compares an engine tensor with a reference tensor and, on failure, names the tensor, the worst
/// element (its multi-dimensional index and both values) and the largest absolute and relative errors.
/// </summary>
/// <remarks>
/// The tolerance. The reference is the float64 truth for float32 inputs, rounded once to float32;
/// Ongko computes in float32. Every output element is a sum of K products (K = the reduction length:
/// in*k*k for a convolution's output, N*OH*OW for its weight gradient, ...). Rounding each partial
/// sum to float32 (unit roundoff u = 2^-24 ≈ 6e-8) adds errors that behave like a random walk over
/// K steps of size u·|partial sum|; for terms of random sign the partial sums and the result are of
/// the size of the tensor's root-mean-square value, so the typical error is about u·sqrt(K)·rms.
/// (The worst case grows like K·u, but blocked/FMA GEMMs stay near the sqrt(K) behaviour.) We allow
///
///     |actual − expected| ≤ sqrt(K) · 1e-5 · (rms(expected) + |expected|)  +  1e-7
///
/// i.e. about 170 times the typical float32 error (u ≈ 6e-8), which absorbs any summation order,
/// FMA use and the fixture's own final rounding (u/2·|expected|), while a real bug cannot hide:
/// dropping or doubling a single one of the K terms moves a value by about rms/sqrt(K), which is
/// about 5e4/K times this bound (K=4608, the largest here: 10x over; K=27: 1800x over);
/// wrong indexing or padding moves values by about rms, thousands of times over it. The rms term
/// makes the bound independent of the tensor's scale, so tiny gradients are held to the same relative standard.
/// The 1e-7 floor only matters for a reference that is all zeros.
/// </remarks>
public static class TensorAssert
{
    public const double RelativePerSqrtK = 1e-5;
    public const double Floor = 1e-7;

    /// <summary>Asserts that <paramref name="actual"/> matches <paramref name="expected"/> within the
    /// tolerance for a reduction of length <paramref name="reductionLength"/> (see the remarks).</summary>
    public static void Close(string name, Tensor expected, Tensor actual, int reductionLength)
    {
        string? failure = Compare(name, expected, actual, reductionLength);
        if (failure is not null) Assert.Fail(failure);
    }

    /// <summary>Asserts bit-for-bit equality, for results that are copies or masks of the input
    /// (max-pooling's output, ReLU): no rounding happens, so none is allowed.</summary>
    public static void Exact(string name, Tensor expected, Tensor actual)
    {
        if (!expected.SameShape(actual))
            Assert.Fail($"{name}: shape {Tensor.ShapeString(actual.Shape)}, expected {Tensor.ShapeString(expected.Shape)}");
        var e = expected.Span;
        var a = actual.Span;
        int mismatches = 0, first = -1;
        for (int i = 0; i < e.Length; i++)
            if (a[i].CompareTo(e[i]) != 0) { mismatches++; if (first < 0) first = i; }
        if (mismatches > 0)
            Assert.Fail(string.Create(CultureInfo.InvariantCulture,
                $"{name} {Tensor.ShapeString(expected.Shape)} must match exactly: {mismatches} elements differ, " +
                $"the first at {IndexString(first, expected.Shape)} is {a[first]:R}, expected {e[first]:R}"));
    }

    /// <summary>Returns null when the tensors match, otherwise the failure message.</summary>
    public static string? Compare(string name, Tensor expected, Tensor actual, int reductionLength)
    {
        if (!expected.SameShape(actual))
            return $"{name}: shape {Tensor.ShapeString(actual.Shape)}, expected {Tensor.ShapeString(expected.Shape)}";
        var e = expected.Span;
        var a = actual.Span;
        double sumSquares = 0;
        foreach (float v in e) sumSquares += (double)v * v;
        double rms = e.Length == 0 ? 0 : Math.Sqrt(sumSquares / e.Length);
        double scale = Math.Sqrt(Math.Max(1, reductionLength)) * RelativePerSqrtK;

        int worst = -1;
        double worstRatio = 0, maxAbs = 0, maxRel = 0;
        for (int i = 0; i < e.Length; i++)
        {
            double error = Math.Abs((double)a[i] - e[i]);
            if (double.IsNaN(error)) error = double.PositiveInfinity;
            double allowed = scale * (rms + Math.Abs(e[i])) + Floor;
            maxAbs = Math.Max(maxAbs, error);
            if (e[i] != 0) maxRel = Math.Max(maxRel, error / Math.Abs(e[i]));
            double ratio = error / allowed;
            if (ratio > worstRatio) { worstRatio = ratio; worst = i; }
        }
        if (worstRatio <= 1) return null;
        return string.Create(CultureInfo.InvariantCulture,
            $"{name} {Tensor.ShapeString(expected.Shape)}: worst element {IndexString(worst, expected.Shape)} " +
            $"is {a[worst]:R}, expected {e[worst]:R} (error {Math.Abs((double)a[worst] - e[worst]):G3}, " +
            $"{worstRatio:G3}x the allowed {scale * (rms + Math.Abs(e[worst])) + Floor:G3}); " +
            $"max abs error {maxAbs:G3}, max rel error {maxRel:G3}, rms(expected) {rms:G3}, K={reductionLength}");
    }

    static string IndexString(int flat, ReadOnlySpan<int> shape)
    {
        var index = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            if (shape[d] == 0) break;
            index[d] = flat % shape[d];
            flat /= shape[d];
        }
        return "[" + string.Join(", ", index) + "]";
    }
}

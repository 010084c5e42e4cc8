using Ongko.Tensors;

namespace Ongko.Tests;

/// <summary>Random tensors and tolerance checks shared by the tests.</summary>
public static class TestData
{
    public static float[] Random(int length, Rng rng, float scale = 1f)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++) values[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return values;
    }

    public static Tensor RandomTensor(Rng rng, params int[] shape) => new(Random(Tensor.Product(shape), rng), shape);

    /// <summary>Asserts |expected − actual| ≤ absolute + relative·|expected| everywhere, naming the worst element.</summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double absolute, double relative, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length}, expected {expected.Length}");
        int worst = -1;
        double worstExcess = 0, maxError = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs((double)expected[i] - actual[i]);
            if (double.IsNaN(actual[i]) && !double.IsNaN(expected[i])) error = double.PositiveInfinity;
            maxError = Math.Max(maxError, error);
            double excess = error - (absolute + relative * Math.Abs(expected[i]));
            if (excess > worstExcess) { worstExcess = excess; worst = i; }
        }
        Assert.True(worst < 0, worst < 0 ? "" :
            $"{what}: element {worst} is {actual[worst]}, expected {expected[worst]} (max abs error {maxError:g3}, tolerance {absolute:g3} + {relative:g3}·|x|)");
    }
}

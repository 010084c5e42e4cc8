using Ongko.Tensors;

namespace Ongko.Vision;

/// <summary>Mixup: convex blends of pairs of images and of their one-hot labels.</summary>
public static class Mixup
{
    /// <summary>
    /// Blends sample i with sample partner[i] (a random permutation of the batch) using one weight
    /// lambda ~ Beta(alpha, alpha) for the batch: images[i] = lambda*x[i] + (1-lambda)*x[partner[i]],
    /// targets[i] = lambda*onehot(y[i]) + (1-lambda)*onehot(y[partner[i]]). Each target row sums to 1.
    /// images: [count, sampleSize] (first count rows used); targets: [count, classCount]. Returns lambda.
    /// </summary>
    public static float Apply(Span<float> images, int count, int sampleSize, ReadOnlySpan<int> labels, Span<float> targets, int classCount,
                              Rng rng, double alpha = 8.0, float[]? scratch = null)
    {
        float lambda = (float)SampleBeta(rng, alpha, alpha);
        var partner = new int[count];
        for (int i = 0; i < count; i++) partner[i] = i;
        rng.Shuffle(partner.AsSpan());

        var original = scratch is not null && scratch.Length >= count * sampleSize ? scratch : new float[count * sampleSize];
        images.Slice(0, count * sampleSize).CopyTo(original);
        for (int i = 0; i < count; i++)
        {
            var target = images.Slice(i * sampleSize, sampleSize);
            System.Numerics.Tensors.TensorPrimitives.Multiply(original.AsSpan(i * sampleSize, sampleSize), lambda, target);
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(original.AsSpan(partner[i] * sampleSize, sampleSize), 1 - lambda, target, target);
            var row = targets.Slice(i * classCount, classCount);
            row.Clear();
            row[labels[i]] += lambda;
            row[labels[partner[i]]] += 1 - lambda;
        }
        return lambda;
    }

    /// <summary>Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b).</summary>
    public static double SampleBeta(Rng rng, double a, double b)
    {
        double x = SampleGamma(rng, a), y = SampleGamma(rng, b);
        return x / (x + y);
    }

    /// <summary>Gamma(shape, 1) by Marsaglia and Tsang's method (shape &gt;= 1).</summary>
    public static double SampleGamma(Rng rng, double shape)
    {
        if (shape < 1) throw new ArgumentOutOfRangeException(nameof(shape), "shape must be at least 1");
        double d = shape - 1.0 / 3.0, c = 1.0 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do { x = rng.NextGaussian(); v = 1 + c * x; } while (v <= 0);
            v = v * v * v;
            double u = rng.NextDouble();
            if (u < 1 - 0.0331 * x * x * x * x) return d * v;
            if (Math.Log(u) < 0.5 * x * x + d * (1 - v + Math.Log(v))) return d * v;
        }
    }
}

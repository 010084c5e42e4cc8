using Ongko.Tensors;

namespace Ongko.Layers;

/// <summary>He (Kaiming) normal initialisation, as the reference uses for ReLU networks.</summary>
public static class Initialization
{
    /// <summary>Fills with N(0, 2 / fanIn) from the seeded generator, so a seed fixes the weights.</summary>
    public static void HeNormal(Span<float> weights, int fanIn, Rng rng)
    {
        double standardDeviation = Math.Sqrt(2.0 / fanIn);
        for (int i = 0; i < weights.Length; i++) weights[i] = (float)(rng.NextGaussian() * standardDeviation);
    }
}

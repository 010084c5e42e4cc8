using System.Runtime.Intrinsics;

namespace Ongko.Kernels;

/// <summary>
/// One SGD update of a parameter range in a single pass over θ, ∇ and the velocity (PyTorch's semantics):
/// g = ∇ + wd·θ;  v = m·v + g (v = g on the first step);  step = nesterov ? g + m·v : v;  θ −= lr·step.
/// Each product and sum is rounded on its own (no fused multiply-add), as the element loop <see cref="StepNaive"/> does, so the
/// vector pass gives its results bit for bit. One pass reads three streams and writes two, where the same update written as
/// whole-array operations made four passes over seven (model3's 1.7M parameters: the step was memory-bound).
/// </summary>
public static class SgdUpdate
{
    /// <summary>The twin: the update element by element.</summary>
    /// <param name="θ">[length], updated</param> <param name="gradient">[length]</param>
    /// <param name="velocity">[length], updated (unused, may be empty, without momentum)</param>
    public static void StepNaive(Span<float> θ, ReadOnlySpan<float> gradient, Span<float> velocity, float learningRate, float momentum,
        float weightDecay, bool nesterov, bool firstStep)
    {
        for (int i = 0; i < θ.Length; i++)
        {
            float g = weightDecay != 0 ? θ[i] * weightDecay + gradient[i] : gradient[i];
            if (momentum != 0)
            {
                float v = firstStep ? g : velocity[i] * momentum + g;
                velocity[i] = v;
                g = nesterov ? v * momentum + g : v;
            }
            θ[i] = g * -learningRate + θ[i];
        }
    }

    /// <summary>The update (arguments as <see cref="StepNaive"/>), 16 or 8 elements at a time where the CPU has the vectors.</summary>
    public static void Step(Span<float> θ, ReadOnlySpan<float> gradient, Span<float> velocity, float learningRate, float momentum,
        float weightDecay, bool nesterov, bool firstStep)
    {
        int length = θ.Length;
        if (gradient.Length < length || (momentum != 0 && velocity.Length < length)) throw new ArgumentException("SGD update: buffers shorter than the parameter");
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> wd = Vector512.Create(weightDecay), m = Vector512.Create(momentum), step = Vector512.Create(-learningRate);
            for (; i <= length - 16; i += 16)
            {
                var g = Vector512.Create(gradient.Slice(i, 16));
                var p = Vector512.Create(θ.Slice(i, 16));
                if (weightDecay != 0) g = p * wd + g;
                if (momentum != 0)
                {
                    var v = firstStep ? g : Vector512.Create(velocity.Slice(i, 16)) * m + g;
                    v.CopyTo(velocity.Slice(i, 16));
                    g = nesterov ? v * m + g : v;
                }
                (g * step + p).CopyTo(θ.Slice(i, 16));
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> wd = Vector256.Create(weightDecay), m = Vector256.Create(momentum), step = Vector256.Create(-learningRate);
            for (; i <= length - 8; i += 8)
            {
                var g = Vector256.Create(gradient.Slice(i, 8));
                var p = Vector256.Create(θ.Slice(i, 8));
                if (weightDecay != 0) g = p * wd + g;
                if (momentum != 0)
                {
                    var v = firstStep ? g : Vector256.Create(velocity.Slice(i, 8)) * m + g;
                    v.CopyTo(velocity.Slice(i, 8));
                    g = nesterov ? v * m + g : v;
                }
                (g * step + p).CopyTo(θ.Slice(i, 8));
            }
        }
        StepNaive(θ[i..], gradient[i..length], momentum != 0 ? velocity[i..length] : default, learningRate, momentum, weightDecay, nesterov, firstStep);
    }
}

namespace Ongko.Layers;

/// <summary>
/// Two δ buffers that the layers of a training backward pass share. δinput of a step is read only by the step below it,
/// which writes its own δinput while reading it, so every δ fits in two buffers used in turn: each layer writes δinput into
/// the buffer its δoutput is not in (<see cref="Layer.SharedGradients"/>). A pass then holds two buffers of the largest δ
/// instead of one per layer (numta28-best at batch 128: 26 MB instead of 65).
/// </summary>
public sealed class GradientBuffers
{
    float[] first = [], second = [];

    /// <summary>Makes both buffers hold at least <paramref name="length"/> floats (before a pass, so none grows during it).</summary>
    public void Reserve(int length)
    {
        if (first.Length < length) first = new float[length];
        if (second.Length < length) second = new float[length];
    }

    /// <summary>The buffer that <paramref name="δoutput"/> is not, with room for <paramref name="length"/> floats.</summary>
    public float[] Other(float[] δoutput, int length)
    {
        ref var buffer = ref ReferenceEquals(δoutput, first) ? ref second : ref first;
        if (buffer.Length < length) buffer = new float[length];
        return buffer;
    }

    /// <summary>Floats held by both buffers.</summary>
    public long Length => (long)first.Length + second.Length;
}

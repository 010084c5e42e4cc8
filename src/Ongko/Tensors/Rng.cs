namespace Ongko.Tensors;

/// <summary>
/// A small seeded generator (xoshiro256**, seeded by SplitMix64) whose stream is the same on every
/// machine and whose state can be saved in a checkpoint and restored, so runs resume bit-for-bit.
/// </summary>
public sealed class Rng
{
    ulong s0, s1, s2, s3;

    public Rng(ulong seed)
    {
        ulong x = seed;
        s0 = SplitMix(ref x); s1 = SplitMix(ref x); s2 = SplitMix(ref x); s3 = SplitMix(ref x);
    }

    Rng(ulong[] state) { s0 = state[0]; s1 = state[1]; s2 = state[2]; s3 = state[3]; }

    public ulong NextUInt64()
    {
        ulong result = RotateLeft(s1 * 5, 7) * 9;
        ulong t = s1 << 17;
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
        s2 ^= t;
        s3 = RotateLeft(s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 24 bits of precision.</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1.0f / (1 << 24));

    /// <summary>
    /// <paramref name="values"/>.Length draws of <see cref="NextFloat"/>, the same stream, with the state in registers for the whole
    /// loop (a call per value reloads and stores it each time: ~4x slower).
    /// </summary>
    public void NextFloats(Span<float> values)
    {
        ulong a = s0, b = s1, c = s2, d = s3;
        for (int i = 0; i < values.Length; i++)
        {
            ulong result = RotateLeft(b * 5, 7) * 9;
            ulong t = b << 17;
            c ^= a; d ^= b; b ^= c; a ^= d;
            c ^= t;
            d = RotateLeft(d, 45);
            values[i] = (result >> 40) * (1.0f / (1 << 24));
        }
        (s0, s1, s2, s3) = (a, b, c, d);
    }

    /// <summary>Uniform in [0, 1) with 53 bits of precision.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, count).</summary>
    public int NextInt(int count)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count));
        return (int)((NextUInt64() >> 33) % (ulong)count);
    }

    /// <summary>Standard normal (Box-Muller; one value per call keeps the state simple to save).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble();
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Fisher-Yates shuffle.</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>A new independent generator derived from this one (for per-worker streams).</summary>
    public Rng Fork() => new(NextUInt64());

    public string SaveState() => $"{s0:x16}{s1:x16}{s2:x16}{s3:x16}";

    /// <summary>True for a string <see cref="FromState"/> accepts: 64 hex digits, not all zero (a stuck generator).</summary>
    public static bool IsValidState(string state) =>
        state.Length == 64 && state.All(char.IsAsciiHexDigit) && state.Any(c => c != '0');

    public static Rng FromState(string state)
    {
        if (!IsValidState(state)) throw new FormatException("generator state must be 64 hex digits, not all zero");
        var words = new ulong[4];
        for (int i = 0; i < 4; i++) words[i] = Convert.ToUInt64(state.Substring(i * 16, 16), 16);
        return new Rng(words);
    }

    static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));
}

using System.Globalization;

namespace Ongko.Kernels;

/// <summary>Cache blocks of the packed GEMM: KC columns of A (rows of B) per block, MC rows of A, NC columns of B.</summary>
public readonly record struct GemmBlocks(int KC, int MC, int NC);

/// <summary>
/// Every knob of the GEMM as one immutable value: the micro-kernel, the cache blocks per kernel and the size
/// limits of the special paths. <see cref="Default"/> is the CPU's best kernel with the tuned values (the
/// benchmark environment variables applied, read here and nowhere else); <see cref="Use"/> replaces it for the
/// calling thread only (tests, A/B timing), and multiplies that thread starts carry it to their workers.
/// </summary>
public sealed record GemmTuning(
    GemmKernel Kernel,
    GemmBlocks Avx512Blocks,
    GemmBlocks Avx2Blocks,
    int NarrowMaxRows,
    int DirectBMaxRows,
    int DotProductsMaxC)
{
    // A block ~96 KB (L2), B block ~2 MB (L3) for AVX2; A block 144 KB, B block 1.5 MB for AVX-512.
    static readonly GemmTuning tuned = new(Gemm.Best, Avx512Blocks: new(384, 96, 1024), Avx2Blocks: new(256, 96, 2048),
                                           NarrowMaxRows: 128, DirectBMaxRows: 128, DotProductsMaxC: 16384);

    /// <summary>The tuning of every thread that has not chosen another.</summary>
    public static GemmTuning Default { get; } = FromEnvironment(Environment.GetEnvironmentVariable("ONGKO_GEMM_KERNEL"),
                                                                Environment.GetEnvironmentVariable("ONGKO_GEMM_BLOCKS"));

    [ThreadStatic] static GemmTuning? threadTuning;

    /// <summary>The tuning multiplies on this thread use.</summary>
    public static GemmTuning Current => threadTuning ?? Default;

    /// <summary>
    /// Makes <paramref name="tuning"/> this thread's until the returned scope is disposed (then the previous one
    /// is back). Other threads are unaffected. A kernel this CPU cannot run is refused.
    /// </summary>
    public static Scope Use(GemmTuning tuning)
    {
        if (tuning.Kernel > Gemm.Best) throw new PlatformNotSupportedException($"GEMM kernel {tuning.Kernel} needs instructions this CPU lacks");
        var scope = new Scope(threadTuning);
        threadTuning = tuning;
        return scope;
    }

    /// <summary>Restores the thread's previous tuning when disposed.</summary>
    public readonly struct Scope : IDisposable
    {
        readonly GemmTuning? previous;
        internal Scope(GemmTuning? previous) => this.previous = previous;
        public void Dispose() => threadTuning = previous;
    }

    /// <summary>The blocks the given kernel uses (the scalar kernel shares AVX2's 6x16 tile and blocks).</summary>
    public GemmBlocks BlocksOf(GemmKernel kernel) => kernel == GemmKernel.Avx512 ? Avx512Blocks : Avx2Blocks;

    /// <summary>
    /// The tuned values with the benchmark variables applied: <paramref name="kernel"/> (ONGKO_GEMM_KERNEL) =
    /// scalar | avx2 | avx512 forces a kernel (one the CPU lacks falls back to the best it has);
    /// <paramref name="blocks"/> (ONGKO_GEMM_BLOCKS) = "KC,MC,NC" overrides the AVX-512 cache blocks
    /// (MC rounded down to a multiple of 12, NC of 32). Null or empty: unchanged.
    /// </summary>
    public static GemmTuning FromEnvironment(string? kernel, string? blocks)
    {
        var tuning = tuned;
        if (!string.IsNullOrWhiteSpace(blocks))
        {
            var parts = blocks.Split(',');
            var values = parts.Select(p => int.TryParse(p.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : 0).ToArray();
            if (values.Length != 3 || values[0] < 1 || values[1] < 12 || values[2] < 32)
                throw new ArgumentException($"ONGKO_GEMM_BLOCKS: expected KC,MC,NC (KC >= 1, MC >= 12, NC >= 32), got '{blocks}'");
            tuning = tuning with { Avx512Blocks = new(values[0], values[1] / 12 * 12, values[2] / 32 * 32) };
        }
        var chosen = kernel?.Trim().ToLowerInvariant() switch
        {
            "scalar" => GemmKernel.Scalar,
            "avx2" => GemmKernel.Avx2,
            _ => Gemm.Best,
        };
        return tuning with { Kernel = chosen <= Gemm.Best ? chosen : Gemm.Best };
    }
}

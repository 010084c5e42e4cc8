using System.Runtime.Intrinsics.X86;

namespace Ongko.Kernels;

/// <summary>Which micro-kernel the packed GEMM runs; the best the CPU has unless a tuning says otherwise.</summary>
public enum GemmKernel { Scalar, Avx2, Avx512 }

/// <summary>
/// Single-precision matrix multiply, C[m,n] = (accumulate ? C : 0) + op(A)[m,k] · op(B)[k,n], row-major,
/// where op(X) is X or its transpose. <see cref="GemmPlanner"/> picks the path and blocking from the sizes and
/// the thread's <see cref="GemmTuning"/>: packed cache blocks (BLIS loop order, Gemm/PackedGemm.cs) with a
/// 12x32 or 8x32 AVX-512, 6x16 AVX2+FMA or scalar micro-kernel (Gemm/MicroKernel*.cs), or dot products
/// straight from the operands (Gemm/DotProducts.cs). <see cref="Naive"/> is the obviously-correct twin.
/// </summary>
public static unsafe class Gemm
{
    /// <summary>The fastest kernel this CPU supports.</summary>
    public static readonly GemmKernel Best =
        Avx512F.IsSupported && Fma.IsSupported ? GemmKernel.Avx512 :
        Avx2.IsSupported && Fma.IsSupported ? GemmKernel.Avx2 : GemmKernel.Scalar;

    /// <summary>The kernel multiplies on this thread use.</summary>
    public static GemmKernel Kernel => GemmTuning.Current.Kernel;

    /// <summary>True when a vector kernel (AVX2 or AVX-512) is in use.</summary>
    public static bool UsesAvx2 => Kernel >= GemmKernel.Avx2;

    /// <summary>The kernel and its blocking, for benchmark output.</summary>
    public static string Description
    {
        get
        {
            var tuning = GemmTuning.Current;
            var blocks = tuning.BlocksOf(tuning.Kernel);
            string tile = tuning.Kernel == GemmKernel.Avx512 ? "12x32" : "6x16";
            return $"{tuning.Kernel} {tile}, KC {blocks.KC}, MC {blocks.MC}, NC {blocks.NC}";
        }
    }

    /// <summary>The obviously-correct triple loop (double accumulation).</summary>
    public static void Naive(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc, bool accumulate)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = accumulate ? c[i * ldc + j] : 0;
                for (int p = 0; p < k; p++)
                    sum += (double)(transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j]);
                c[i * ldc + j] = (float)sum;
            }
    }

    /// <summary>The fast multiply. With <paramref name="parallel"/> the columns (or rows) of C are split over <see cref="Threads.Count"/> cores.</summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc,
        bool accumulate, bool parallel = false)
    {
        if (m == 0 || n == 0) return;
        CheckExtent(a.Length, transA ? k : m, transA ? m : k, lda, "A");
        CheckExtent(b.Length, transB ? n : k, transB ? k : n, ldb, "B");
        CheckExtent(c.Length, m, n, ldc, "C");
        if (k == 0)
        {
            if (!accumulate) for (int i = 0; i < m; i++) c.Slice(i * ldc, n).Clear();
            return;
        }
        var plan = GemmPlanner.Plan(transA, transB, m, n, k, parallel, Threads.Count, GemmTuning.Current);
        fixed (float* pa = a, pb = b, pc = c)
        {
            if (plan.Path == GemmPath.DotProducts512) DotProductKernels.DotProducts512(m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate);
            else if (plan.Path == GemmPath.DotProducts) DotProductKernels.DotProducts(m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate);
            else PackedGemm.Run(new GemmProblem(transA, transB, pa, lda, pb, ldb, pc, ldc, k, accumulate), plan, m, n);
        }
    }

    static void CheckExtent(int length, int rows, int columns, int leading, string name)
    {
        if (rows > 0 && columns > 0 && (leading < columns || (long)(rows - 1) * leading + columns > length))
            throw new ArgumentException($"GEMM operand {name} ({rows}x{columns}, leading dimension {leading}) does not fit in {length} floats");
    }
}

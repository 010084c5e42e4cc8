using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ongko.Kernels;

/// <summary>The AVX2+FMA micro-kernel: a 6x16 tile (12 ymm accumulators); B read with a row stride ldb.</summary>
internal static unsafe class MicroKernelAvx2
{
    /// <summary>C[rows x 16] (+)= Apanel[kc x 6]ᵀ · Bpanel[kc x 16], for the first <paramref name="rows"/> (1..6) of the 6 computed rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MicroKernel6x16(int kc, float* a, float* b, int ldb, float* c, int ldc, bool accumulate, int rows)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
                         c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int q = 0; q < kc; q++)
        {
            var b0 = Avx.LoadVector256(b);
            var b1 = Avx.LoadVector256(b + 8);
            var av = Vector256.Create(a[0]); c00 = Fma.MultiplyAdd(av, b0, c00); c01 = Fma.MultiplyAdd(av, b1, c01);
            av = Vector256.Create(a[1]); c10 = Fma.MultiplyAdd(av, b0, c10); c11 = Fma.MultiplyAdd(av, b1, c11);
            av = Vector256.Create(a[2]); c20 = Fma.MultiplyAdd(av, b0, c20); c21 = Fma.MultiplyAdd(av, b1, c21);
            av = Vector256.Create(a[3]); c30 = Fma.MultiplyAdd(av, b0, c30); c31 = Fma.MultiplyAdd(av, b1, c31);
            av = Vector256.Create(a[4]); c40 = Fma.MultiplyAdd(av, b0, c40); c41 = Fma.MultiplyAdd(av, b1, c41);
            av = Vector256.Create(a[5]); c50 = Fma.MultiplyAdd(av, b0, c50); c51 = Fma.MultiplyAdd(av, b1, c51);
            a += 6; b += ldb;
        }
        Store(c, c00, c01, accumulate); c += ldc;
        if (rows > 1) Store(c, c10, c11, accumulate); c += ldc;
        if (rows > 2) Store(c, c20, c21, accumulate); c += ldc;
        if (rows > 3) Store(c, c30, c31, accumulate); c += ldc;
        if (rows > 4) Store(c, c40, c41, accumulate); c += ldc;
        if (rows > 5) Store(c, c50, c51, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* c, Vector256<float> low, Vector256<float> high, bool accumulate)
    {
        if (accumulate)
        {
            low = Avx.Add(low, Avx.LoadVector256(c));
            high = Avx.Add(high, Avx.LoadVector256(c + 8));
        }
        Avx.Store(c, low);
        Avx.Store(c + 8, high);
    }
}

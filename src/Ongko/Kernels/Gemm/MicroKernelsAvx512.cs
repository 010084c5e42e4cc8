using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ongko.Kernels;

/// <summary>
/// AVX-512 micro-kernels: a 12x32 tile (24 zmm accumulators) and an 8x32 one (for C whose row count is a
/// multiple of 8 but not of 12, up to <see cref="GemmTuning.NarrowMaxRows"/>: no wasted rows).
/// B is read with a row stride ldb: a packed panel (ldb = 32) or B itself (unpacked full panels).
/// </summary>
internal static unsafe class MicroKernelsAvx512
{
    /// <summary>C[rows x 32] (+)= Apanel[kc x 8]ᵀ · Bpanel[kc x 32], for the first <paramref name="rows"/> (1..8) of the 8 computed rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MicroKernel8x32(int kc, float* a, float* b, int ldb, float* c, int ldc, bool accumulate, int rows)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        for (int q = 0; q < kc; q++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            { var av = Vector512.Create(a[0]); c00 = Avx512F.FusedMultiplyAdd(av, b0, c00); c01 = Avx512F.FusedMultiplyAdd(av, b1, c01); }
            { var av = Vector512.Create(a[1]); c10 = Avx512F.FusedMultiplyAdd(av, b0, c10); c11 = Avx512F.FusedMultiplyAdd(av, b1, c11); }
            { var av = Vector512.Create(a[2]); c20 = Avx512F.FusedMultiplyAdd(av, b0, c20); c21 = Avx512F.FusedMultiplyAdd(av, b1, c21); }
            { var av = Vector512.Create(a[3]); c30 = Avx512F.FusedMultiplyAdd(av, b0, c30); c31 = Avx512F.FusedMultiplyAdd(av, b1, c31); }
            { var av = Vector512.Create(a[4]); c40 = Avx512F.FusedMultiplyAdd(av, b0, c40); c41 = Avx512F.FusedMultiplyAdd(av, b1, c41); }
            { var av = Vector512.Create(a[5]); c50 = Avx512F.FusedMultiplyAdd(av, b0, c50); c51 = Avx512F.FusedMultiplyAdd(av, b1, c51); }
            { var av = Vector512.Create(a[6]); c60 = Avx512F.FusedMultiplyAdd(av, b0, c60); c61 = Avx512F.FusedMultiplyAdd(av, b1, c61); }
            { var av = Vector512.Create(a[7]); c70 = Avx512F.FusedMultiplyAdd(av, b0, c70); c71 = Avx512F.FusedMultiplyAdd(av, b1, c71); }
            a += 8; b += ldb;
        }
        Store512(c, c00, c01, accumulate);
        if (rows <= 1) return; c += ldc; Store512(c, c10, c11, accumulate);
        if (rows <= 2) return; c += ldc; Store512(c, c20, c21, accumulate);
        if (rows <= 3) return; c += ldc; Store512(c, c30, c31, accumulate);
        if (rows <= 4) return; c += ldc; Store512(c, c40, c41, accumulate);
        if (rows <= 5) return; c += ldc; Store512(c, c50, c51, accumulate);
        if (rows <= 6) return; c += ldc; Store512(c, c60, c61, accumulate);
        if (rows <= 7) return; c += ldc; Store512(c, c70, c71, accumulate);

    }

    /// <summary>C[rows x 32] (+)= Apanel[kc x 12]ᵀ · Bpanel[kc x 32], for the first <paramref name="rows"/> (1..12) of the 12 computed rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MicroKernel12x32(int kc, float* a, float* b, int ldb, float* c, int ldc, bool accumulate, int rows)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default, c90 = default, c91 = default, c100 = default, c101 = default, c110 = default, c111 = default;
        for (int q = 0; q < kc; q++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            { var av = Vector512.Create(a[0]); c00 = Avx512F.FusedMultiplyAdd(av, b0, c00); c01 = Avx512F.FusedMultiplyAdd(av, b1, c01); }
            { var av = Vector512.Create(a[1]); c10 = Avx512F.FusedMultiplyAdd(av, b0, c10); c11 = Avx512F.FusedMultiplyAdd(av, b1, c11); }
            { var av = Vector512.Create(a[2]); c20 = Avx512F.FusedMultiplyAdd(av, b0, c20); c21 = Avx512F.FusedMultiplyAdd(av, b1, c21); }
            { var av = Vector512.Create(a[3]); c30 = Avx512F.FusedMultiplyAdd(av, b0, c30); c31 = Avx512F.FusedMultiplyAdd(av, b1, c31); }
            { var av = Vector512.Create(a[4]); c40 = Avx512F.FusedMultiplyAdd(av, b0, c40); c41 = Avx512F.FusedMultiplyAdd(av, b1, c41); }
            { var av = Vector512.Create(a[5]); c50 = Avx512F.FusedMultiplyAdd(av, b0, c50); c51 = Avx512F.FusedMultiplyAdd(av, b1, c51); }
            { var av = Vector512.Create(a[6]); c60 = Avx512F.FusedMultiplyAdd(av, b0, c60); c61 = Avx512F.FusedMultiplyAdd(av, b1, c61); }
            { var av = Vector512.Create(a[7]); c70 = Avx512F.FusedMultiplyAdd(av, b0, c70); c71 = Avx512F.FusedMultiplyAdd(av, b1, c71); }
            { var av = Vector512.Create(a[8]); c80 = Avx512F.FusedMultiplyAdd(av, b0, c80); c81 = Avx512F.FusedMultiplyAdd(av, b1, c81); }
            { var av = Vector512.Create(a[9]); c90 = Avx512F.FusedMultiplyAdd(av, b0, c90); c91 = Avx512F.FusedMultiplyAdd(av, b1, c91); }
            { var av = Vector512.Create(a[10]); c100 = Avx512F.FusedMultiplyAdd(av, b0, c100); c101 = Avx512F.FusedMultiplyAdd(av, b1, c101); }
            { var av = Vector512.Create(a[11]); c110 = Avx512F.FusedMultiplyAdd(av, b0, c110); c111 = Avx512F.FusedMultiplyAdd(av, b1, c111); }
            a += 12; b += ldb;
        }
        Store512(c, c00, c01, accumulate);
        if (rows <= 1) return; c += ldc; Store512(c, c10, c11, accumulate);
        if (rows <= 2) return; c += ldc; Store512(c, c20, c21, accumulate);
        if (rows <= 3) return; c += ldc; Store512(c, c30, c31, accumulate);
        if (rows <= 4) return; c += ldc; Store512(c, c40, c41, accumulate);
        if (rows <= 5) return; c += ldc; Store512(c, c50, c51, accumulate);
        if (rows <= 6) return; c += ldc; Store512(c, c60, c61, accumulate);
        if (rows <= 7) return; c += ldc; Store512(c, c70, c71, accumulate);
        if (rows <= 8) return; c += ldc; Store512(c, c80, c81, accumulate);
        if (rows <= 9) return; c += ldc; Store512(c, c90, c91, accumulate);
        if (rows <= 10) return; c += ldc; Store512(c, c100, c101, accumulate);
        if (rows <= 11) return; c += ldc; Store512(c, c110, c111, accumulate);

    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store512(float* c, Vector512<float> low, Vector512<float> high, bool accumulate)
    {
        if (accumulate)
        {
            low += Vector512.Load(c);
            high += Vector512.Load(c + 16);
        }
        low.Store(c);
        high.Store(c + 16);
    }
}

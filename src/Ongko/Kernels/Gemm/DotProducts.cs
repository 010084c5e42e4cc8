using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ongko.Kernels;

/// <summary>
/// C[m,n] (+)= A[m,k] · B[n,k]ᵀ straight from the operands, no packing: the path for a small C from long rows
/// (a convolution's weight gradient δy·colᵀ). <see cref="GemmPlanner"/> decides when.
/// </summary>
internal static unsafe class DotProductKernels
{
    /// <summary>
    /// C[m,n] (+)= A[m,k] · B[n,k]ᵀ as dot products of rows, 4 rows of A by 2 rows of B at a time
    /// (8 vector accumulators), with 1x1 dots for the leftover rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void DotProducts(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
    {
        int i = 0;
        for (; i + 4 <= m; i += 4)
        {
            float* a0 = a + (long)i * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
            int j = 0;
            for (; j + 2 <= n; j += 2)
            {
                float* b0 = b + (long)j * ldb, b1 = b0 + ldb;
                Vector256<float> s00 = default, s01 = default, s10 = default, s11 = default,
                                 s20 = default, s21 = default, s30 = default, s31 = default;
                int q = 0;
                for (; q + 8 <= k; q += 8)
                {
                    var x0 = Avx.LoadVector256(b0 + q);
                    var x1 = Avx.LoadVector256(b1 + q);
                    var y = Avx.LoadVector256(a0 + q); s00 = Fma.MultiplyAdd(y, x0, s00); s01 = Fma.MultiplyAdd(y, x1, s01);
                    y = Avx.LoadVector256(a1 + q); s10 = Fma.MultiplyAdd(y, x0, s10); s11 = Fma.MultiplyAdd(y, x1, s11);
                    y = Avx.LoadVector256(a2 + q); s20 = Fma.MultiplyAdd(y, x0, s20); s21 = Fma.MultiplyAdd(y, x1, s21);
                    y = Avx.LoadVector256(a3 + q); s30 = Fma.MultiplyAdd(y, x0, s30); s31 = Fma.MultiplyAdd(y, x1, s31);
                }
                float t00 = Vector256.Sum(s00), t01 = Vector256.Sum(s01), t10 = Vector256.Sum(s10), t11 = Vector256.Sum(s11),
                      t20 = Vector256.Sum(s20), t21 = Vector256.Sum(s21), t30 = Vector256.Sum(s30), t31 = Vector256.Sum(s31);
                for (; q < k; q++)
                {
                    float x0 = b0[q], x1 = b1[q];
                    t00 += a0[q] * x0; t01 += a0[q] * x1; t10 += a1[q] * x0; t11 += a1[q] * x1;
                    t20 += a2[q] * x0; t21 += a2[q] * x1; t30 += a3[q] * x0; t31 += a3[q] * x1;
                }
                float* row = c + (long)i * ldc + j;
                Put(row, t00, accumulate); Put(row + 1, t01, accumulate); row += ldc;
                Put(row, t10, accumulate); Put(row + 1, t11, accumulate); row += ldc;
                Put(row, t20, accumulate); Put(row + 1, t21, accumulate); row += ldc;
                Put(row, t30, accumulate); Put(row + 1, t31, accumulate);
            }
            for (; j < n; j++)
                for (int r = 0; r < 4; r++)
                    Put(c + (long)(i + r) * ldc + j, Dot(a + (long)(i + r) * lda, b + (long)j * ldb, k), accumulate);
        }
        for (; i < m; i++)
            for (int j = 0; j < n; j++)
                Put(c + (long)i * ldc + j, Dot(a + (long)i * lda, b + (long)j * ldb, k), accumulate);
    }

    /// <summary>
    /// C[m,n] (+)= A[m,k] · B[n,k]ᵀ as AVX-512 dot products: 6 rows of A by 4 rows of B at a time (24 zmm
    /// accumulators, 10 loads per 24 FMAs), no packing; leftover rows and columns take 1x4 and 1x1 dots.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void DotProducts512(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
    {
        int k16 = k & ~15;
        int i = 0;
        for (; i + 6 <= m; i += 6)
        {
            float* a0 = a + (long)(i + 0) * lda; float* a1 = a + (long)(i + 1) * lda; float* a2 = a + (long)(i + 2) * lda; float* a3 = a + (long)(i + 3) * lda; float* a4 = a + (long)(i + 4) * lda; float* a5 = a + (long)(i + 5) * lda;
            int j = 0;
            for (; j + 4 <= n; j += 4)
            {
                float* b0 = b + (long)(j + 0) * ldb; float* b1 = b + (long)(j + 1) * ldb; float* b2 = b + (long)(j + 2) * ldb; float* b3 = b + (long)(j + 3) * ldb;
                Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default, s10 = default, s11 = default, s12 = default, s13 = default, s20 = default, s21 = default, s22 = default, s23 = default, s30 = default, s31 = default, s32 = default, s33 = default, s40 = default, s41 = default, s42 = default, s43 = default, s50 = default, s51 = default, s52 = default, s53 = default;
                for (int q = 0; q < k16; q += 16)
                {
                    var x0 = Vector512.Load(b0 + q); var x1 = Vector512.Load(b1 + q); var x2 = Vector512.Load(b2 + q); var x3 = Vector512.Load(b3 + q);
                    { var y = Vector512.Load(a0 + q); s00 = Avx512F.FusedMultiplyAdd(y, x0, s00); s01 = Avx512F.FusedMultiplyAdd(y, x1, s01); s02 = Avx512F.FusedMultiplyAdd(y, x2, s02); s03 = Avx512F.FusedMultiplyAdd(y, x3, s03); }
                    { var y = Vector512.Load(a1 + q); s10 = Avx512F.FusedMultiplyAdd(y, x0, s10); s11 = Avx512F.FusedMultiplyAdd(y, x1, s11); s12 = Avx512F.FusedMultiplyAdd(y, x2, s12); s13 = Avx512F.FusedMultiplyAdd(y, x3, s13); }
                    { var y = Vector512.Load(a2 + q); s20 = Avx512F.FusedMultiplyAdd(y, x0, s20); s21 = Avx512F.FusedMultiplyAdd(y, x1, s21); s22 = Avx512F.FusedMultiplyAdd(y, x2, s22); s23 = Avx512F.FusedMultiplyAdd(y, x3, s23); }
                    { var y = Vector512.Load(a3 + q); s30 = Avx512F.FusedMultiplyAdd(y, x0, s30); s31 = Avx512F.FusedMultiplyAdd(y, x1, s31); s32 = Avx512F.FusedMultiplyAdd(y, x2, s32); s33 = Avx512F.FusedMultiplyAdd(y, x3, s33); }
                    { var y = Vector512.Load(a4 + q); s40 = Avx512F.FusedMultiplyAdd(y, x0, s40); s41 = Avx512F.FusedMultiplyAdd(y, x1, s41); s42 = Avx512F.FusedMultiplyAdd(y, x2, s42); s43 = Avx512F.FusedMultiplyAdd(y, x3, s43); }
                    { var y = Vector512.Load(a5 + q); s50 = Avx512F.FusedMultiplyAdd(y, x0, s50); s51 = Avx512F.FusedMultiplyAdd(y, x1, s51); s52 = Avx512F.FusedMultiplyAdd(y, x2, s52); s53 = Avx512F.FusedMultiplyAdd(y, x3, s53); }
                }
                { float* row = c + (long)(i + 0) * ldc + j; Put(row + 0, Vector512.Sum(s00) + Tail(a0, b0, k16, k), accumulate); Put(row + 1, Vector512.Sum(s01) + Tail(a0, b1, k16, k), accumulate); Put(row + 2, Vector512.Sum(s02) + Tail(a0, b2, k16, k), accumulate); Put(row + 3, Vector512.Sum(s03) + Tail(a0, b3, k16, k), accumulate); }
                { float* row = c + (long)(i + 1) * ldc + j; Put(row + 0, Vector512.Sum(s10) + Tail(a1, b0, k16, k), accumulate); Put(row + 1, Vector512.Sum(s11) + Tail(a1, b1, k16, k), accumulate); Put(row + 2, Vector512.Sum(s12) + Tail(a1, b2, k16, k), accumulate); Put(row + 3, Vector512.Sum(s13) + Tail(a1, b3, k16, k), accumulate); }
                { float* row = c + (long)(i + 2) * ldc + j; Put(row + 0, Vector512.Sum(s20) + Tail(a2, b0, k16, k), accumulate); Put(row + 1, Vector512.Sum(s21) + Tail(a2, b1, k16, k), accumulate); Put(row + 2, Vector512.Sum(s22) + Tail(a2, b2, k16, k), accumulate); Put(row + 3, Vector512.Sum(s23) + Tail(a2, b3, k16, k), accumulate); }
                { float* row = c + (long)(i + 3) * ldc + j; Put(row + 0, Vector512.Sum(s30) + Tail(a3, b0, k16, k), accumulate); Put(row + 1, Vector512.Sum(s31) + Tail(a3, b1, k16, k), accumulate); Put(row + 2, Vector512.Sum(s32) + Tail(a3, b2, k16, k), accumulate); Put(row + 3, Vector512.Sum(s33) + Tail(a3, b3, k16, k), accumulate); }
                { float* row = c + (long)(i + 4) * ldc + j; Put(row + 0, Vector512.Sum(s40) + Tail(a4, b0, k16, k), accumulate); Put(row + 1, Vector512.Sum(s41) + Tail(a4, b1, k16, k), accumulate); Put(row + 2, Vector512.Sum(s42) + Tail(a4, b2, k16, k), accumulate); Put(row + 3, Vector512.Sum(s43) + Tail(a4, b3, k16, k), accumulate); }
                { float* row = c + (long)(i + 5) * ldc + j; Put(row + 0, Vector512.Sum(s50) + Tail(a5, b0, k16, k), accumulate); Put(row + 1, Vector512.Sum(s51) + Tail(a5, b1, k16, k), accumulate); Put(row + 2, Vector512.Sum(s52) + Tail(a5, b2, k16, k), accumulate); Put(row + 3, Vector512.Sum(s53) + Tail(a5, b3, k16, k), accumulate); }
            }
            for (; j < n; j++)
                for (int r = 0; r < 6; r++)
                    Put(c + (long)(i + r) * ldc + j, Dot512(a + (long)(i + r) * lda, b + (long)j * ldb, k), accumulate);
        }
        for (; i < m; i++)
        {
            float* a0 = a + (long)i * lda;
            int j = 0;
            for (; j + 4 <= n; j += 4)
            {
                float* b0 = b + (long)(j + 0) * ldb; float* b1 = b + (long)(j + 1) * ldb; float* b2 = b + (long)(j + 2) * ldb; float* b3 = b + (long)(j + 3) * ldb;
                Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default;
                for (int q = 0; q < k16; q += 16)
                {
                    var y = Vector512.Load(a0 + q); s00 = Avx512F.FusedMultiplyAdd(y, Vector512.Load(b0 + q), s00); s01 = Avx512F.FusedMultiplyAdd(y, Vector512.Load(b1 + q), s01); s02 = Avx512F.FusedMultiplyAdd(y, Vector512.Load(b2 + q), s02); s03 = Avx512F.FusedMultiplyAdd(y, Vector512.Load(b3 + q), s03);
                }
                float* row = c + (long)i * ldc + j; Put(row + 0, Vector512.Sum(s00) + Tail(a0, b0, k16, k), accumulate); Put(row + 1, Vector512.Sum(s01) + Tail(a0, b1, k16, k), accumulate); Put(row + 2, Vector512.Sum(s02) + Tail(a0, b2, k16, k), accumulate); Put(row + 3, Vector512.Sum(s03) + Tail(a0, b3, k16, k), accumulate);
            }
            for (; j < n; j++) Put(c + (long)i * ldc + j, Dot512(a0, b + (long)j * ldb, k), accumulate);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Tail(float* x, float* y, int from, int k)
    {
        float total = 0;
        for (int q = from; q < k; q++) total += x[q] * y[q];
        return total;
    }

    static float Dot512(float* x, float* y, int k)
    {
        var sum = Vector512<float>.Zero;
        int q = 0;
        for (; q + 16 <= k; q += 16) sum = Avx512F.FusedMultiplyAdd(Vector512.Load(x + q), Vector512.Load(y + q), sum);
        return Vector512.Sum(sum) + Tail(x, y, q, k);
    }

    static float Dot(float* x, float* y, int k)
    {
        var sum = Vector256<float>.Zero;
        int q = 0;
        for (; q + 8 <= k; q += 8) sum = Fma.MultiplyAdd(Avx.LoadVector256(x + q), Avx.LoadVector256(y + q), sum);
        float total = Vector256.Sum(sum);
        for (; q < k; q++) total += x[q] * y[q];
        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Put(float* c, float value, bool accumulate) => *c = accumulate ? *c + value : value;
}

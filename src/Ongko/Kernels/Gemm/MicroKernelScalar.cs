namespace Ongko.Kernels;

/// <summary>The portable micro-kernel: a 6x16 tile in plain loops, from packed panels only.</summary>
internal static unsafe class MicroKernelScalar
{
    internal static void MicroKernel6x16(int kc, float* a, float* b, float* c, int ldc, bool accumulate, int rows)
    {
        const int MR = 6, NR = 16;
        float* sums = stackalloc float[MR * NR];
        new Span<float>(sums, MR * NR).Clear();
        for (int q = 0; q < kc; q++, a += MR, b += NR)
            for (int i = 0; i < MR; i++)
            {
                float ai = a[i];
                for (int j = 0; j < NR; j++) sums[i * NR + j] += ai * b[j];
            }
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < NR; j++)
                c[(long)i * ldc + j] = accumulate ? c[(long)i * ldc + j] + sums[i * NR + j] : sums[i * NR + j];
    }
}

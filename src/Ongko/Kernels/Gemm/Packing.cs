using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ongko.Kernels;

/// <summary>Copies blocks of op(A) and op(B) into the panel layouts the micro-kernels read.</summary>
internal static unsafe class GemmPacking
{
    /// <summary>Packs op(A)[ic..ic+mc, pc..pc+kc] as MR-row panels: panel r holds kc columns of MR floats.</summary>
    internal static void PackA(GemmProblem p, float* dest, int ic, int mc, int pc, int kc, int MR)
    {
        for (int ir = 0; ir < mc; ir += MR)
        {
            int mr = Math.Min(MR, mc - ir);
            float* panel = dest + ir * kc;
            if (p.TransA)
            {
                // op(A) = Aᵀ: the panel's MR values for one q are contiguous in A's row pc+q.
                for (int q = 0; q < kc; q++)
                {
                    float* source = p.A + (long)(pc + q) * p.Lda + ic + ir;
                    int i = 0;
                    for (; i < mr; i++) panel[q * MR + i] = source[i];
                    for (; i < MR; i++) panel[q * MR + i] = 0;
                }
                continue;
            }
            for (int i = 0; i < MR; i++)
            {
                if (i >= mr) { for (int q = 0; q < kc; q++) panel[q * MR + i] = 0; continue; }
                float* source = p.A + (long)(ic + ir + i) * p.Lda + pc;
                for (int q = 0; q < kc; q++) panel[q * MR + i] = source[q];
            }
        }
    }

    /// <summary>Packs op(B)[pc..pc+kc, jc..jc+nc] as NR-column panels: panel c holds kc rows of NR floats.</summary>
    internal static void PackB(GemmProblem p, float* dest, int pc, int kc, int jc, int nc, int NR, GemmKernel kind)
    {
        for (int jr = 0; jr < nc; jr += NR)
        {
            int nr = Math.Min(NR, nc - jr);
            float* panel = dest + jr * kc;
            if (!p.TransB && nr == NR)
            {
                for (int q = 0; q < kc; q++)
                {
                    float* source = p.B + (long)(pc + q) * p.Ldb + jc + jr;
                    Unsafe.CopyBlockUnaligned(panel + q * NR, source, (uint)(NR * sizeof(float)));
                }
                continue;
            }
            if (p.TransB && nr == NR && kind >= GemmKernel.Avx2)
            {
                // op(B) = Bᵀ: NR rows of B become the panel's NR columns, 8x8 blocks transposed in registers.
                float* source = p.B + (long)(jc + jr) * p.Ldb + pc;
                int q = 0;
                for (; q + 8 <= kc; q += 8)
                    for (int jb = 0; jb < NR; jb += 8)
                        Transpose8x8(source + jb * (long)p.Ldb + q, p.Ldb, panel + q * NR + jb, NR);
                for (; q < kc; q++)
                    for (int j = 0; j < NR; j++) panel[q * NR + j] = source[(long)j * p.Ldb + q];
                continue;
            }
            for (int j = 0; j < NR; j++)
            {
                if (j >= nr) { for (int q = 0; q < kc; q++) panel[q * NR + j] = 0; continue; }
                int column = jc + jr + j;
                if (p.TransB)
                {
                    float* source = p.B + (long)column * p.Ldb + pc;
                    for (int q = 0; q < kc; q++) panel[q * NR + j] = source[q];
                }
                else
                    for (int q = 0; q < kc; q++) panel[q * NR + j] = p.B[(long)(pc + q) * p.Ldb + column];
            }
        }
    }

    /// <summary>dest[c, r] = source[r, c] for an 8x8 block (row strides in floats).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose8x8(float* source, long sourceStride, float* dest, int destStride)
    {
        var r0 = Avx.LoadVector256(source);
        var r1 = Avx.LoadVector256(source + sourceStride);
        var r2 = Avx.LoadVector256(source + 2 * sourceStride);
        var r3 = Avx.LoadVector256(source + 3 * sourceStride);
        var r4 = Avx.LoadVector256(source + 4 * sourceStride);
        var r5 = Avx.LoadVector256(source + 5 * sourceStride);
        var r6 = Avx.LoadVector256(source + 6 * sourceStride);
        var r7 = Avx.LoadVector256(source + 7 * sourceStride);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0b01_00_01_00); var u1 = Avx.Shuffle(t0, t2, 0b11_10_11_10);
        var u2 = Avx.Shuffle(t1, t3, 0b01_00_01_00); var u3 = Avx.Shuffle(t1, t3, 0b11_10_11_10);
        var u4 = Avx.Shuffle(t4, t6, 0b01_00_01_00); var u5 = Avx.Shuffle(t4, t6, 0b11_10_11_10);
        var u6 = Avx.Shuffle(t5, t7, 0b01_00_01_00); var u7 = Avx.Shuffle(t5, t7, 0b11_10_11_10);
        Avx.Store(dest, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dest + destStride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dest + 2 * destStride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dest + 3 * destStride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dest + 4 * destStride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dest + 5 * destStride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dest + 6 * destStride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dest + 7 * destStride, Avx.Permute2x128(u3, u7, 0x31));
    }
}

using System.Runtime.CompilerServices;

namespace Ongko.Kernels;

/// <summary>The operands of one multiply, C (+)= op(A)[m,k] · op(B)[k,n], as pinned pointers with their row strides.</summary>
internal readonly unsafe struct GemmProblem(bool transA, bool transB, float* a, int lda, float* b, int ldb, float* c, int ldc, int k, bool accumulate)
{
    public readonly bool TransA = transA, TransB = transB, Accumulate = accumulate;
    public readonly float* A = a, B = b, C = c;
    public readonly int Lda = lda, Ldb = ldb, Ldc = ldc, K = k;
}

/// <summary>
/// The packed multiply in BLIS loop order: for each NC block of columns and KC block of k, pack B (unless read
/// unpacked), then for each MC block of rows pack A and run the micro-kernel over MR x NR tiles.
/// </summary>
internal static unsafe class PackedGemm
{
    [ThreadStatic] static float[]? packedA;
    [ThreadStatic] static float[]? packedB;
    [ThreadStatic] static ParallelJob? parallelJob;

    const int MaxTile = 12 * 32;

    /// <summary>Runs <paramref name="plan"/>: on this thread, or over the workers in its panels.</summary>
    internal static void Run(GemmProblem p, GemmPlan plan, int m, int n)
    {
        if (plan.Split == GemmSplit.None) { Serial(p, plan, 0, m, 0, n); return; }
        var job = parallelJob ??= new ParallelJob();
        job.Problem = p;
        job.Plan = plan;
        job.M = m; job.N = n;
        Threads.ForRanges(plan.Items, job.Body);
    }

    /// <summary>
    /// The state of one parallel multiply, reused by its calling thread: a cached delegate and
    /// fields instead of a closure, so a parallel multiply allocates nothing.
    /// </summary>
    sealed class ParallelJob
    {
        public GemmProblem Problem;
        public GemmPlan Plan;
        public int M, N;
        public readonly Action<int, int, int> Body;
        public ParallelJob() => Body = Run;
        void Run(int worker, int start, int end)
        {
            if (Plan.Split == GemmSplit.Rows) Serial(Problem, Plan, start * Plan.MR, Math.Min(M, end * Plan.MR), 0, N);
            else Serial(Problem, Plan, 0, M, start * Plan.NR, Math.Min(N, end * Plan.NR));
        }
    }

    /// <summary>Computes rows [rowStart,rowEnd) x columns [colStart,colEnd) of C on this thread.</summary>
    internal static void Serial(GemmProblem p, GemmPlan plan, int rowStart, int rowEnd, int colStart, int colEnd)
    {
        int MR = plan.MR, NR = plan.NR, KC = plan.KC, MC = plan.MC, NC = plan.NC;
        if (packedA is null || packedA.Length < MC * KC) packedA = GC.AllocateUninitializedArray<float>(MC * KC, pinned: true);
        if (packedB is null || packedB.Length < KC * NC) packedB = GC.AllocateUninitializedArray<float>(KC * NC, pinned: true);
        var kind = plan.Kernel;
        bool narrow = MR == 8;
        // Unpacked B: the micro-kernel reads B's full panels straight from B (row stride ldb); only a ragged
        // last panel is packed. Same operations in the same order: same results.
        bool directB = plan.UnpackedB;
        fixed (float* ap = packedA, bp = packedB)
        {
            float* tile = stackalloc float[MaxTile];
            for (int jc = colStart; jc < colEnd; jc += NC)
            {
                int nc = Math.Min(NC, colEnd - jc);
                for (int pc = 0; pc < p.K; pc += KC)
                {
                    int kc = Math.Min(KC, p.K - pc);
                    bool accumulate = p.Accumulate || pc > 0;
                    if (!directB) GemmPacking.PackB(p, bp, pc, kc, jc, nc, NR, kind);
                    else if (nc % NR != 0) GemmPacking.PackB(p, bp + (nc / NR * NR) * kc, pc, kc, jc + nc / NR * NR, nc % NR, NR, kind);
                    for (int ic = rowStart; ic < rowEnd; ic += MC)
                    {
                        int mc = Math.Min(MC, rowEnd - ic);
                        GemmPacking.PackA(p, ap, ic, mc, pc, kc, MR);
                        for (int jr = 0; jr < nc; jr += NR)
                        {
                            int nr = Math.Min(NR, nc - jr);
                            for (int ir = 0; ir < mc; ir += MR)
                            {
                                int mr = Math.Min(MR, mc - ir);
                                float* cTile = p.C + (long)(ic + ir) * p.Ldc + jc + jr;
                                float* aPanel = ap + ir * kc, bPanel = bp + jr * kc;
                                if (nr == NR && directB)
                                    MicroKernel(kind, narrow, kc, aPanel, p.B + (long)pc * p.Ldb + jc + jr, p.Ldb, cTile, p.Ldc, accumulate, mr);
                                else if (nr == NR)
                                    MicroKernel(kind, narrow, kc, aPanel, bPanel, NR, cTile, p.Ldc, accumulate, mr);
                                else
                                {
                                    // Edge tile: compute a full tile into scratch, then copy the valid part.
                                    MicroKernel(kind, narrow, kc, aPanel, bPanel, NR, tile, NR, false, MR);
                                    for (int i = 0; i < mr; i++)
                                        for (int j = 0; j < nr; j++)
                                            cTile[(long)i * p.Ldc + j] = accumulate ? cTile[(long)i * p.Ldc + j] + tile[i * NR + j] : tile[i * NR + j];
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void MicroKernel(GemmKernel kind, bool narrow, int kc, float* a, float* b, int ldb, float* c, int ldc, bool accumulate, int rows)
    {
        if (kind == GemmKernel.Avx512 && narrow) MicroKernelsAvx512.MicroKernel8x32(kc, a, b, ldb, c, ldc, accumulate, rows);
        else if (kind == GemmKernel.Avx512) MicroKernelsAvx512.MicroKernel12x32(kc, a, b, ldb, c, ldc, accumulate, rows);
        else if (kind == GemmKernel.Avx2) MicroKernelAvx2.MicroKernel6x16(kc, a, b, ldb, c, ldc, accumulate, rows);
        else MicroKernelScalar.MicroKernel6x16(kc, a, b, c, ldc, accumulate, rows);   // packed B only (ldb = NR)
    }
}

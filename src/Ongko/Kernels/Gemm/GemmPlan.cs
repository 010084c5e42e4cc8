namespace Ongko.Kernels;

/// <summary>How a multiply is computed: dot products straight from the operands, or packed panels and a micro-kernel.</summary>
public enum GemmPath { Packed, DotProducts, DotProducts512 }

/// <summary>How a parallel multiply is cut over the workers: not at all, by row panels of C, or by column panels.</summary>
public enum GemmSplit { None, Rows, Columns }

/// <summary>
/// Everything a multiply decided before computing: the path, the micro-kernel with its tile (MR x NR) and cache
/// blocks (KC, MC, NC), whether B's full panels are read unpacked, and the split over workers into
/// <see cref="Items"/> panels. A value (no allocation); made by <see cref="GemmPlanner.Plan"/>.
/// </summary>
public readonly record struct GemmPlan(GemmPath Path, GemmKernel Kernel, int MR, int NR, int KC, int MC, int NC,
                                       bool UnpackedB, GemmSplit Split, int Items);

/// <summary>The one place the GEMM chooses its path and blocking: a pure function of the sizes, the thread count and the tuning.</summary>
public static class GemmPlanner
{
    /// <summary>Below this many multiply-adds (~0.5 M) a second core costs more to wake than it saves.</summary>
    public const long ParallelMinimumWork = 1 << 19;

    public static GemmPlan Plan(bool transA, bool transB, int m, int n, int k, bool parallel, int threads, GemmTuning tuning)
    {
        var kernel = tuning.Kernel;
        long cSize = (long)m * n;
        // A small C from long rows of A and B (a convolution's weight gradient δy·colᵀ): dot products straight
        // from the operands beat packing them. The AVX-512 6x4 blocks need k >= 256 to pay for their 24
        // horizontal sums; up to DotProductsMaxC, beyond which packing pays.
        if (!transA && transB && kernel == GemmKernel.Avx512 && k >= 256 && cSize > 1024 && cSize <= tuning.DotProductsMaxC)
            return new(GemmPath.DotProducts512, kernel, 0, 0, 0, 0, 0, false, GemmSplit.None, 0);
        if (!transA && transB && kernel >= GemmKernel.Avx2 && k >= 64 && cSize <= 1024)
            return new(GemmPath.DotProducts, kernel, 0, 0, 0, 0, 0, false, GemmSplit.None, 0);

        var blocks = tuning.BlocksOf(kernel);
        int mr = kernel == GemmKernel.Avx512 ? 12 : 6, nr = kernel == GemmKernel.Avx512 ? 32 : 16;
        // 8-row AVX-512 tiles when m is a multiple of 8 but not of 12 (a convolution's 16-128 output channels):
        // 12-row tiles would compute 36 rows for 32, 72 for 64.
        if (kernel == GemmKernel.Avx512 && m % 8 == 0 && m % 12 != 0 && m <= tuning.NarrowMaxRows) mr = 8;

        var split = GemmSplit.None;
        int items = 0, rowsPerWorker = m;
        if (parallel && threads > 1 && cSize * k >= ParallelMinimumWork)
        {
            split = n < m ? GemmSplit.Rows : GemmSplit.Columns;
            items = split == GemmSplit.Rows ? (m + mr - 1) / mr : (n + nr - 1) / nr;
            if (split == GemmSplit.Rows)
            {
                int workers = Math.Min(threads, items);
                rowsPerWorker = Math.Min(m, (items + workers - 1) / workers * mr);
            }
        }
        // Few rows per worker (W·im2col: B is big, A is small): the micro-kernel reads B's full panels straight
        // from B (row stride ldb) instead of a packed copy; the same operations in the same order.
        bool unpackedB = !transB && kernel != GemmKernel.Scalar && rowsPerWorker <= tuning.DirectBMaxRows;
        return new(GemmPath.Packed, kernel, mr, nr, blocks.KC, blocks.MC, blocks.NC, unpackedB, split, items);
    }
}

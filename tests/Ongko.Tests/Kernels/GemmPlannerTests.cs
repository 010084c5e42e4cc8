using Ongko.Kernels;

namespace Ongko.Tests.Kernels;

/// <summary>The GEMM's path and blocking choice as a pure function of sizes, threads and tuning (no CPU needed).</summary>
public class GemmPlannerTests
{
    static readonly GemmTuning Avx512 = GemmTuning.FromEnvironment(null, null) with { Kernel = GemmKernel.Avx512 };
    static readonly GemmTuning Avx2 = Avx512 with { Kernel = GemmKernel.Avx2 };
    static readonly GemmTuning Scalar = Avx512 with { Kernel = GemmKernel.Scalar };

    static GemmPlan Plan(GemmTuning tuning, bool transA, bool transB, int m, int n, int k, bool parallel = false, int threads = 1) =>
        GemmPlanner.Plan(transA, transB, m, n, k, parallel, threads, tuning);

    [Fact]
    public void SmallCFromLongRowsTakesDotProducts()
    {
        // A convolution's weight gradient δy·colᵀ: 32x144 from k = 576.
        Assert.Equal(GemmPath.DotProducts512, Plan(Avx512, false, true, 32, 144, 576).Path);
        Assert.Equal(GemmPath.Packed, Plan(Avx512, false, true, 32, 144, 200).Path);            // k too short for 6x4 blocks
        Assert.Equal(GemmPath.Packed, Plan(Avx512, false, true, 200, 144, 576).Path);           // C beyond DotProductsMaxC
        Assert.Equal(GemmPath.Packed, Plan(Avx512 with { DotProductsMaxC = 0 }, false, true, 32, 144, 576).Path);
        Assert.Equal(GemmPath.DotProducts, Plan(Avx512, false, true, 16, 27, 100).Path);        // C <= 1024, k >= 64
        Assert.Equal(GemmPath.DotProducts, Plan(Avx2, false, true, 16, 27, 100).Path);
        Assert.Equal(GemmPath.Packed, Plan(Avx2, false, true, 32, 144, 576).Path);              // AVX2 packs larger C
        Assert.Equal(GemmPath.Packed, Plan(Scalar, false, true, 16, 27, 100).Path);             // no vector dot products
        Assert.Equal(GemmPath.Packed, Plan(Avx512, true, true, 16, 27, 100).Path);              // only A·Bᵀ
        Assert.Equal(GemmPath.Packed, Plan(Avx512, false, false, 16, 27, 100).Path);
    }

    [Fact]
    public void TileAndBlocksFollowTheKernel()
    {
        var p = Plan(Avx512, false, false, 200, 300, 400);
        Assert.Equal((GemmKernel.Avx512, 12, 32, 384, 96, 1024), (p.Kernel, p.MR, p.NR, p.KC, p.MC, p.NC));
        p = Plan(Avx2, false, false, 200, 300, 400);
        Assert.Equal((GemmKernel.Avx2, 6, 16, 256, 96, 2048), (p.Kernel, p.MR, p.NR, p.KC, p.MC, p.NC));
        p = Plan(Scalar, false, false, 200, 300, 400);
        Assert.Equal((GemmKernel.Scalar, 6, 16, 256, 96, 2048), (p.Kernel, p.MR, p.NR, p.KC, p.MC, p.NC));
        Assert.False(p.UnpackedB);   // the scalar kernel reads packed panels only
    }

    [Theory]
    [InlineData(32, 8)]     // a multiple of 8, not of 12: 8-row tiles
    [InlineData(64, 8)]
    [InlineData(128, 8)]
    [InlineData(48, 12)]    // a multiple of 12
    [InlineData(136, 12)]   // beyond NarrowMaxRows
    [InlineData(30, 12)]
    public void EightRowTilesForMultiplesOfEightUpToTheLimit(int m, int mr)
    {
        Assert.Equal(mr, Plan(Avx512, false, false, m, 784, 288).MR);
        Assert.Equal(12, Plan(Avx512 with { NarrowMaxRows = 0 }, false, false, m, 784, 288).MR);
        Assert.Equal(6, Plan(Avx2, false, false, m, 784, 288).MR);
    }

    [Fact]
    public void BIsReadUnpackedForFewRowsPerWorker()
    {
        Assert.True(Plan(Avx512, false, false, 64, 784, 576).UnpackedB);      // W·im2col
        Assert.False(Plan(Avx512, false, true, 64, 784, 576).UnpackedB);      // Bᵀ must be packed
        Assert.False(Plan(Avx512, false, false, 200, 784, 576).UnpackedB);    // too many rows
        Assert.False(Plan(Avx512 with { DirectBMaxRows = 0 }, false, false, 64, 784, 576).UnpackedB);
        // Split by rows over 2 workers: 17 panels of 12 rows -> at most 9 panels (108 rows) each.
        var split = Plan(Avx512, false, false, 200, 150, 600, parallel: true, threads: 2);
        Assert.Equal((GemmSplit.Rows, 17), (split.Split, split.Items));
        Assert.True(split.UnpackedB);
    }

    [Fact]
    public void ParallelSplitNeedsWorkAndThreads()
    {
        Assert.Equal(GemmSplit.None, Plan(Avx512, false, false, 512, 512, 512, parallel: false, threads: 4).Split);
        Assert.Equal(GemmSplit.None, Plan(Avx512, false, false, 512, 512, 512, parallel: true, threads: 1).Split);
        Assert.Equal(GemmSplit.None, Plan(Avx512, false, false, 16, 16, 16, parallel: true, threads: 4).Split);   // too little work
        var columns = Plan(Avx512, false, false, 512, 1000, 512, parallel: true, threads: 4);
        Assert.Equal((GemmSplit.Columns, 32), (columns.Split, columns.Items));   // ceil(1000 / 32) column panels
        var rows = Plan(Avx2, false, false, 1000, 512, 512, parallel: true, threads: 4);
        Assert.Equal((GemmSplit.Rows, 167), (rows.Split, rows.Items));           // ceil(1000 / 6) row panels
    }

    [Fact]
    public void EnvironmentOverridesAreParsedInOnePlace()
    {
        var tuning = GemmTuning.FromEnvironment("scalar", "256, 100, 2000");
        Assert.Equal(GemmKernel.Scalar, tuning.Kernel);
        Assert.Equal(new GemmBlocks(256, 96, 1984), tuning.Avx512Blocks);   // MC to a multiple of 12, NC of 32
        Assert.Equal(GemmTuning.FromEnvironment(null, null).Avx2Blocks, tuning.Avx2Blocks);
        Assert.Equal(Gemm.Best, GemmTuning.FromEnvironment("", null).Kernel);
        Assert.Equal(Gemm.Best, GemmTuning.FromEnvironment("nonsense", null).Kernel);
        Assert.Equal(Gemm.Best >= GemmKernel.Avx2 ? GemmKernel.Avx2 : GemmKernel.Scalar, GemmTuning.FromEnvironment("AVX2", null).Kernel);
        var error = Assert.Throws<ArgumentException>(() => GemmTuning.FromEnvironment(null, "384,96"));
        Assert.Contains("ONGKO_GEMM_BLOCKS", error.Message);
    }
}

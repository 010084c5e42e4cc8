using Ongko.Kernels;
using Ongko.Tensors;

namespace Ongko.Tests.Kernels;

public class GemmTests
{
    /// <summary>Every kernel this CPU can run (scalar always), so each dispatch is compared with the naive twin.</summary>
    public static IEnumerable<GemmKernel> Kernels() => Enum.GetValues<GemmKernel>().Where(k => k <= Gemm.Best);

    // Random shapes straddle the 6x16 and 12x32 micro-tiles and the KC/MC/NC blocking edges, with every transpose.
    [Theory]
    [InlineData(12, 32, 384)]
    [InlineData(25, 65, 385)]
    [InlineData(131, 1100, 70)]
    [InlineData(13, 101, 300)]   // AVX-512 dot products: 6x4 blocks with leftover rows, columns and k tail
    [InlineData(32, 144, 576)]
    [InlineData(1, 1, 1)]
    [InlineData(5, 7, 3)]
    [InlineData(6, 16, 1)]
    [InlineData(7, 17, 257)]
    [InlineData(97, 33, 300)]
    [InlineData(13, 2100, 19)]
    [InlineData(200, 150, 600)]
    [InlineData(32, 784, 288)]   // 8-row AVX-512 tiles (multiples of 8, not of 12, up to 64 rows)
    [InlineData(64, 196, 576)]
    [InlineData(40, 70, 500)]
    [InlineData(8, 33, 20)]
    public void FastMatchesNaive(int m, int n, int k)
    {
        foreach (var kernel in Kernels())
        {
            using var scope = GemmTuning.Use(GemmTuning.Default with { Kernel = kernel });
            Assert.Equal(kernel, Gemm.Kernel);
            CompareAll(m, n, k, kernel);
        }
    }

    /// <summary>A tuning applies to the thread that chose it and ends with its scope; the default is the best kernel.</summary>
    [Fact]
    public void TuningIsPerThreadAndScoped()
    {
        Assert.Equal(Gemm.Best, GemmTuning.Default.Kernel);
        using (GemmTuning.Use(GemmTuning.Default with { Kernel = GemmKernel.Scalar }))
        {
            Assert.Equal(GemmKernel.Scalar, Gemm.Kernel);
            GemmKernel seenElsewhere = GemmKernel.Scalar;
            var other = new Thread(() => seenElsewhere = Gemm.Kernel);
            other.Start();
            other.Join();
            Assert.Equal(Gemm.Best, seenElsewhere);
            using (GemmTuning.Use(GemmTuning.Default with { NarrowMaxRows = 0 })) Assert.Equal(Gemm.Best, Gemm.Kernel);
            Assert.Equal(GemmKernel.Scalar, Gemm.Kernel);   // the inner scope restored the outer one
        }
        Assert.Equal(Gemm.Best, Gemm.Kernel);
        if (Gemm.Best < GemmKernel.Avx512)
            Assert.Throws<PlatformNotSupportedException>(() => GemmTuning.Use(GemmTuning.Default with { Kernel = GemmKernel.Avx512 }));
    }

    /// <summary>
    /// Reading B's panels unpacked (few rows of C, e.g. W·im2col) and 8-row tiles do the same operations in the
    /// same order as packing B and 12-row tiles: bitwise the same C, for random shapes with ragged last panels and every kernel.
    /// </summary>
    [Fact]
    public void UnpackedBGivesBitwiseThePackedResult()
    {
        var rng = new Rng(77);
        for (int trial = 0; trial < 16; trial++)
        {
            int m = trial % 2 == 0 ? 8 * (1 + rng.NextInt(8)) : 1 + rng.NextInt(70), n = 1 + rng.NextInt(900), k = 1 + rng.NextInt(800), ldb = n + rng.NextInt(5), ldc = n + rng.NextInt(3);
            var a = TestData.Random(m * k, rng);
            var b = TestData.Random(k * ldb, rng);
            var initial = TestData.Random(m * ldc, rng);
            bool accumulate = rng.NextInt(2) == 1, parallel = rng.NextInt(2) == 1;
            foreach (var kernel in Kernels())
            {
                var tuning = GemmTuning.Default with { Kernel = kernel };
                var packed = (float[])initial.Clone();
                var direct = (float[])initial.Clone();
                using (GemmTuning.Use(tuning with { DirectBMaxRows = 0 }))
                    Gemm.Multiply(false, false, m, n, k, a, k, b, ldb, packed, ldc, accumulate, parallel);
                using (GemmTuning.Use(tuning with { DirectBMaxRows = int.MaxValue }))
                    Gemm.Multiply(false, false, m, n, k, a, k, b, ldb, direct, ldc, accumulate, parallel);
                Assert.Equal(packed, direct);
                // 8-row tiles instead of 12-row ones (m a multiple of 8): the same sums in the same order too.
                var wide = (float[])initial.Clone();
                using (GemmTuning.Use(tuning with { NarrowMaxRows = 0, DirectBMaxRows = int.MaxValue }))
                    Gemm.Multiply(false, false, m, n, k, a, k, b, ldb, wide, ldc, accumulate, parallel);
                Assert.Equal(wide, direct);
                var expected = (float[])initial.Clone();
                Gemm.Naive(false, false, m, n, k, a, k, b, ldb, expected, ldc, accumulate);
                TestData.AssertClose(expected, direct, 1e-5 * k, 1e-5, $"unpacked B {kernel} {m}x{n}x{k}");
            }
        }
    }

    [Fact]
    public void BestKernelIsTheDefault()
    {
        Assert.Equal(Gemm.Best, Gemm.Kernel);
        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported) Assert.Equal(GemmKernel.Avx512, Gemm.Best);
    }

    static void CompareAll(int m, int n, int k, GemmKernel kernel)
    {
        var rng = new Rng((ulong)(m * 1000003 + n * 1009 + k));
        foreach (bool transA in new[] { false, true })
            foreach (bool transB in new[] { false, true })
                foreach (bool accumulate in new[] { false, true })
                    foreach (bool parallel in new[] { false, true })
                    {
                        int lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 1, ldc = n + 2;
                        var a = TestData.Random((transA ? k : m) * lda, rng);
                        var b = TestData.Random((transB ? n : k) * ldb, rng);
                        var initial = TestData.Random(m * ldc, rng);
                        var expected = (float[])initial.Clone();
                        var actual = (float[])initial.Clone();
                        Gemm.Naive(transA, transB, m, n, k, a, lda, b, ldb, expected, ldc, accumulate);
                        Gemm.Multiply(transA, transB, m, n, k, a, lda, b, ldb, actual, ldc, accumulate, parallel);
                        // float32 sums of k products of values in [-1,1]: error grows like sqrt(k)·2^-24·k at worst.
                        TestData.AssertClose(expected, actual, 1e-5 * k, 1e-5, $"gemm {kernel} {m}x{n}x{k} tA={transA} tB={transB} acc={accumulate} par={parallel}");
                    }
    }

    [Fact]
    public void PaddingColumnsOfCAreLeftAlone()
    {
        var rng = new Rng(7);
        int m = 9, n = 20, k = 11, ldc = 25;
        var a = TestData.Random(m * k, rng);
        var b = TestData.Random(k * n, rng);
        var c = new float[m * ldc];
        Array.Fill(c, 42f);
        Gemm.Multiply(false, false, m, n, k, a, k, b, n, c, ldc, accumulate: false);
        for (int i = 0; i < m; i++)
            for (int j = n; j < ldc && i * ldc + j < c.Length; j++)
                Assert.Equal(42f, c[i * ldc + j]);
    }

    [Fact]
    public void RejectsOperandsThatDoNotFit()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            Gemm.Multiply(false, false, 4, 4, 4, new float[15], 4, new float[16], 4, new float[16], 4, false));
        Assert.Contains("operand A", ex.Message);
    }
}

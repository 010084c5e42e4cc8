using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ongko.Kernels;

/// <summary>Which micro-kernel the packed GEMM runs; chosen at start-up from the CPU, forced by tests.</summary>
public enum GemmKernel { Scalar, Avx2, Avx512 }

/// <summary>
/// Single-precision matrix multiply, C[m,n] = (accumulate ? C : 0) + op(A)[m,k] · op(B)[k,n],
/// row-major, where op(X) is X or its transpose. The fast path packs A and B into cache-sized
/// panels (BLIS loop order) and runs a 12x32 AVX-512 micro-kernel (24 zmm accumulators) where
/// AVX-512F is present, a 6x16 AVX2+FMA one (12 ymm accumulators) where only AVX2 is, and a scalar
/// one (6x16) elsewhere. <see cref="Naive"/> is the obviously-correct twin.
/// </summary>
public static unsafe class Gemm
{
    /// <summary>A kernel with its micro-tile (MR x NR) and cache blocks (KC, MC, NC); one immutable object, read once per multiply.</summary>
    internal sealed record Blocking(GemmKernel Kind, int MR, int NR, int KC, int MC, int NC)
    {
        Blocking? narrow;
        /// <summary>The same blocks with 8-row tiles; made once, so a multiply allocates nothing.</summary>
        public Blocking Narrow => narrow ??= this with { MR = 8 };
    }

    static readonly Blocking avx2Blocking = new(GemmKernel.Avx2, 6, 16, 256, 96, 2048);     // A block ~96 KB (L2), B block ~2 MB (L3)
    static Blocking avx512Blocking = new(GemmKernel.Avx512, 12, 32, 384, 96, 1024);   // A block 144 KB (L2), B block 1.5 MB (L3); picked among noisy runs, see README

    /// <summary>
    /// 8x32 AVX-512 tiles for C with a multiple of 8 but not of 12 rows, up to this many (a convolution's 16-128
    /// output channels: 12-row panels would compute 36 rows for 32, 72 for 64). Measured best of 30 x 20, one thread:
    /// 32x784x288 90 -> 100 GFLOP/s, 64x784x576 92 -> 103, 128x784x576 100 -> 103, 16x784x27 65 -> 91.
    /// 0 turns it off (tests, A/B timing).
    /// </summary>
    internal static int NarrowMaxRows = 128;

    [ThreadStatic] static float[]? packedA;
    [ThreadStatic] static float[]? packedB;

    /// <summary>The fastest kernel this CPU supports.</summary>
    public static readonly GemmKernel Best =
        Avx512F.IsSupported && Fma.IsSupported ? GemmKernel.Avx512 :
        Avx2.IsSupported && Fma.IsSupported ? GemmKernel.Avx2 : GemmKernel.Scalar;

    static Blocking blocking = BlockingOf(Initial());

    /// <summary>A kernel forced on the calling thread only (tests), so other threads' results do not change meanwhile.</summary>
    [ThreadStatic] static Blocking? threadBlocking;

    static Blocking Current => threadBlocking ?? blocking;

    /// <summary>
    /// The kernel in use on this thread. Tests set it to exercise every dispatch, for the calling thread only
    /// (multiplies it starts use it on their workers too); it cannot exceed <see cref="Best"/>.
    /// </summary>
    public static GemmKernel Kernel
    {
        get => Current.Kind;
        internal set
        {
            if (value > Best) throw new PlatformNotSupportedException($"GEMM kernel {value} needs instructions this CPU lacks");
            threadBlocking = value == blocking.Kind ? null : BlockingOf(value);
        }
    }

    /// <summary>True when a vector kernel (AVX2 or AVX-512) is in use.</summary>
    public static bool UsesAvx2 => Current.Kind >= GemmKernel.Avx2;

    /// <summary>The kernel and its blocking, for benchmark output.</summary>
    public static string Description => $"{Current.Kind} {Current.MR}x{Current.NR}, KC {Current.KC}, MC {Current.MC}, NC {Current.NC}";

    static Blocking BlockingOf(GemmKernel k) =>
        k == GemmKernel.Avx512 ? avx512Blocking : k == GemmKernel.Avx2 ? avx2Blocking : avx2Blocking with { Kind = GemmKernel.Scalar };

    /// <summary>
    /// ONGKO_GEMM_KERNEL=scalar|avx2|avx512 forces a kernel (benchmarks); ONGKO_GEMM_BLOCKS=KC,MC,NC
    /// overrides the AVX-512 cache blocks (tuning). Unset, the best kernel and the tuned blocks are used.
    /// </summary>
    static GemmKernel Initial()
    {
        var blocks = Environment.GetEnvironmentVariable("ONGKO_GEMM_BLOCKS");
        if (blocks is not null)
        {
            var v = blocks.Split(',').Select(int.Parse).ToArray();
            avx512Blocking = avx512Blocking with { KC = v[0], MC = v[1] / 12 * 12, NC = v[2] / 32 * 32 };
        }
        return Environment.GetEnvironmentVariable("ONGKO_GEMM_KERNEL")?.ToLowerInvariant() switch
        {
            "scalar" => GemmKernel.Scalar,
            "avx2" when Best >= GemmKernel.Avx2 => GemmKernel.Avx2,
            _ => Best,
        };
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
        fixed (float* pa = a, pb = b, pc = c)
        {
            var blk = Current;
            if (!transA && transB && blk.Kind == GemmKernel.Avx512 && k >= 256 && (long)m * n > 1024 && (long)m * n <= DotProductsMaxC)
            {
                // A small C from long rows of A and B (a convolution's weight gradient δy·colᵀ, e.g.
                // 32x144 from k=576 in model3): 6x4 blocks of dot products straight from the operands,
                // no packing. Measured (best of 6, same process): 2x faster than packing at 32x144x576,
                // but slower at k=144 (the 24 horizontal sums per block cost as much as the loop) and
                // at 16x27x2304 (4 leftover rows), hence the k and size limits.
                DotProducts512(m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate);
                return;
            }
            if (!transA && transB && blk.Kind >= GemmKernel.Avx2 && k >= 64 && (long)m * n <= 1024)
            {
                // A small C from long rows of A and B (a convolution's weight gradient: δy·colᵀ):
                // dot products straight from the operands beat packing them.
                DotProducts(m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate);
                return;
            }
            if (blk.Kind == GemmKernel.Avx512 && m % 8 == 0 && m % 12 != 0 && m <= NarrowMaxRows) blk = blk.Narrow;
            var args = new Problem(transA, transB, pa, lda, pb, ldb, pc, ldc, k, accumulate);
            // Below ~0.5 MFLOP a second core costs more to wake than it saves.
            bool split = parallel && Threads.Count > 1 && (long)m * n * k >= 1 << 19;
            if (!split) { Serial(args, blk, 0, m, 0, n); return; }
            var job = parallelJob ??= new ParallelJob();
            job.Args = args;
            job.Rows = n < m;
            job.M = m; job.N = n;
            job.Blocks = blk;
            int mr = blk.MR, nr = blk.NR;
            Threads.ForRanges(job.Rows ? (m + mr - 1) / mr : (n + nr - 1) / nr, job.Body);
        }
    }

    /// <summary>
    /// C[m,n] (+)= A[m,k] · B[n,k]ᵀ as dot products of rows, 4 rows of A by 2 rows of B at a time
    /// (8 vector accumulators), with 1x1 dots for the leftover rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void DotProducts(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
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
    static void DotProducts512(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
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

    /// <summary>
    /// The state of one parallel multiply, reused by its calling thread: a cached delegate and
    /// fields instead of a closure, so a parallel multiply allocates nothing.
    /// </summary>
    sealed class ParallelJob
    {
        public Problem Args;
        public bool Rows;
        public int M, N;
        public Blocking Blocks = avx2Blocking;
        public readonly Action<int, int, int> Body;
        public ParallelJob() => Body = Run;
        void Run(int worker, int start, int end)
        {
            if (Rows) Serial(Args, Blocks, start * Blocks.MR, Math.Min(M, end * Blocks.MR), 0, N);
            else Serial(Args, Blocks, 0, M, start * Blocks.NR, Math.Min(N, end * Blocks.NR));
        }
    }

    [ThreadStatic] static ParallelJob? parallelJob;

    static void CheckExtent(int length, int rows, int columns, int leading, string name)
    {
        if (rows > 0 && columns > 0 && (leading < columns || (long)(rows - 1) * leading + columns > length))
            throw new ArgumentException($"GEMM operand {name} ({rows}x{columns}, leading dimension {leading}) does not fit in {length} floats");
    }

    readonly struct Problem(bool transA, bool transB, float* a, int lda, float* b, int ldb, float* c, int ldc, int k, bool accumulate)
    {
        public readonly bool TransA = transA, TransB = transB, Accumulate = accumulate;
        public readonly float* A = a, B = b, C = c;
        public readonly int Lda = lda, Ldb = ldb, Ldc = ldc, K = k;
    }

    /// <summary>Computes rows [rowStart,rowEnd) x columns [colStart,colEnd) of C on this thread.</summary>
    static void Serial(Problem p, Blocking blk, int rowStart, int rowEnd, int colStart, int colEnd)
    {
        int MR = blk.MR, NR = blk.NR, KC = blk.KC, MC = blk.MC, NC = blk.NC;
        if (packedA is null || packedA.Length < MC * KC) packedA = GC.AllocateUninitializedArray<float>(MC * KC, pinned: true);
        if (packedB is null || packedB.Length < KC * NC) packedB = GC.AllocateUninitializedArray<float>(KC * NC, pinned: true);
        var kind = blk.Kind;
        bool narrow = MR == 8;
        // Few rows (a convolution's OC x col product: B = im2col is big, A is small): the micro-kernel reads
        // B's full 32-column panels straight from B (row stride ldb) instead of copying them into a packed
        // block first; only a ragged last panel is packed. Same operations in the same order: same results.
        bool directB = !p.TransB && kind != GemmKernel.Scalar && rowEnd - rowStart <= DirectBMaxRows;
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
                    if (!directB) PackB(p, bp, pc, kc, jc, nc, NR, kind);
                    else if (nc % NR != 0) PackB(p, bp + (nc / NR * NR) * kc, pc, kc, jc + nc / NR * NR, nc % NR, NR, kind);
                    for (int ic = rowStart; ic < rowEnd; ic += MC)
                    {
                        int mc = Math.Min(MC, rowEnd - ic);
                        PackA(p, ap, ic, mc, pc, kc, MR);
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

    const int MaxTile = 12 * 32;

    /// <summary>Most rows of C (per thread) for which B is read unpacked (see Serial); 0 turns it off (tests, A/B timing).</summary>
    internal static int DirectBMaxRows = 128;

    /// <summary>Largest C (in floats) that the AVX-512 dot-product path takes; beyond it packing pays.</summary>
    internal static int DotProductsMaxC = 16384;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void MicroKernel(GemmKernel kind, bool narrow, int kc, float* a, float* b, int ldb, float* c, int ldc, bool accumulate, int rows)
    {
        if (kind == GemmKernel.Avx512 && narrow) MicroKernel8x32(kc, a, b, ldb, c, ldc, accumulate, rows);
        else if (kind == GemmKernel.Avx512) MicroKernel12x32(kc, a, b, ldb, c, ldc, accumulate, rows);
        else if (kind == GemmKernel.Avx2) MicroKernel6x16(kc, a, b, ldb, c, ldc, accumulate, rows);
        else ScalarMicroKernel(kc, a, b, c, ldc, accumulate, rows);   // packed B only (ldb = NR)
    }

    /// <summary>Packs op(A)[ic..ic+mc, pc..pc+kc] as MR-row panels: panel r holds kc columns of MR floats.</summary>
    static void PackA(Problem p, float* dest, int ic, int mc, int pc, int kc, int MR)
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
    static void PackB(Problem p, float* dest, int pc, int kc, int jc, int nc, int NR, GemmKernel kind)
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

    /// <summary>C[rows x 32] (+)= Apanel[kc x 8]ᵀ · Bpanel[kc x 32], for the first <paramref name="rows"/> (1..8) of the 8 computed rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MicroKernel8x32(int kc, float* a, float* b, int ldb, float* c, int ldc, bool accumulate, int rows)
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
    static void MicroKernel12x32(int kc, float* a, float* b, int ldb, float* c, int ldc, bool accumulate, int rows)
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

    /// <summary>C[rows x 16] (+)= Apanel[kc x 6]ᵀ · Bpanel[kc x 16], for the first <paramref name="rows"/> (1..6) of the 6 computed rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MicroKernel6x16(int kc, float* a, float* b, int ldb, float* c, int ldc, bool accumulate, int rows)
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

    static void ScalarMicroKernel(int kc, float* a, float* b, float* c, int ldc, bool accumulate, int rows)
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

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>The host GEMM: see <see cref="HostGemm"/> for the blocking.</summary>
internal sealed partial class CpuOps<T>
{
    /// <summary>Rows of the GEMM's register block (what <c>lstm selftest</c> reports as the tile).</summary>
    public const int GemmRowBlock = HostGemm.MR;

    /// <summary>The cached job with its packing buffers; null while a GEMM holds it.</summary>
    private GemmJob? _cachedJob = new();

    /// <summary>
    /// The state of the GEMM block being computed, shared with the workers. One is cached per
    /// instance, so a GEMM allocates nothing; a GEMM issued from a second thread while the first
    /// runs gets a job of its own.
    /// </summary>
    private sealed class GemmJob
    {
        public T[] PackedA = [];
        public T[] PackedB = [];
        public T[] C = [];
        public int COffset;
        public int Ldc;
        public int Row0;
        public int Col0;
        public int Rows;
        public int Cols;
        public int Kc;
        public int RowPanels;
        public int ColPanels;
        public bool SplitColumns;
        public T Alpha;
        public T Beta;
        public HostGemm.Update Mode;

        // The unpacked dot-product path (A and Bᵀ rows read in place).
        public T[] A = [];
        public int AOffset;
        public int Lda;
        public T[] B = [];
        public int BOffset;
        public int Ldb;
        public int K;
    }

    /// <summary>The workers' entry points, one per register type, made once.</summary>
    private static class Tiles<TV, TS>
        where TV : struct
        where TS : ISimd<T, TV>
    {
        public static readonly Action<GemmJob, int, int> Run = RunTiles<TV, TS>;

        public static readonly Action<GemmJob, int, int> Dot = RunDot<TV, TS>;
    }

    /// <summary>
    /// Most rows of C for which op(A)·Bᵀ runs as unpacked dot products (<see cref="HostGemmDot"/>):
    /// below it, packing B would cost as much as the product.
    /// </summary>
    public const int DotMaxRows = 64;

    void IDeviceOps<T>.Gemm(GemmShape shape, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c) =>
        Gemm(shape, shape.M, alpha, a, b, beta, c);

    /// <remarks>
    /// Both kernels compute every element of C in an order that depends only on K (the packed
    /// one: K blocks of <see cref="HostGemm.KC"/>, each a sequence of FMAs; the dot-product one:
    /// lanes, their sum, the scalar tail), never on the row's place; only the choice between them
    /// depends on M, so it is made by the whole product's rows.
    /// </remarks>
    void IDeviceOps<T>.GemmRows(GemmShape shape, int wholeRows, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c)
    {
        if (shape.TransA != 0)
            throw new LstmException("cpu gemm rows: op(A) must be A (the rows of a transposed A are not contiguous)");
        if (wholeRows < shape.M)
            throw new LstmException($"cpu gemm rows: the whole product has {wholeRows} rows, fewer than the part's {shape.M}");
        Gemm(shape, wholeRows, alpha, a, b, beta, c);
    }

    /// <summary>The GEMM, its kernel chosen as for a product of <paramref name="pathRows"/> rows.</summary>
    private void Gemm(GemmShape shape, int pathRows, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c)
    {
        var s = shape;
        if (s.M < 0 || s.N < 0 || s.K < 0)
            throw new LstmException($"cpu gemm: negative size M={s.M}, N={s.N}, K={s.K}");
        if (s.M == 0 || s.N == 0)
            return;
        if (s.Ldc < s.N)
            throw new LstmException($"cpu gemm: ldc {s.Ldc} is smaller than N={s.N}");
        Require(c, (long)(s.M - 1) * s.Ldc + s.N, "C", "gemm");
        bool betaZero = Scalar<T>.ToDouble(beta) == 0;
        if (s.K == 0)
        {
            ScaleRows(s, beta, betaZero, HostBuffer<T>.Span(c));
            return;
        }

        int aRows = s.TransA != 0 ? s.K : s.M;
        int aCols = s.TransA != 0 ? s.M : s.K;
        int bRows = s.TransB != 0 ? s.N : s.K;
        int bCols = s.TransB != 0 ? s.K : s.N;
        if (s.Lda < aCols || s.Ldb < bCols)
            throw new LstmException($"cpu gemm: lda {s.Lda} or ldb {s.Ldb} is smaller than the row of A ({aCols}) or B ({bCols})");
        Require(a, (long)(aRows - 1) * s.Lda + aCols, "A", "gemm");
        Require(b, (long)(bRows - 1) * s.Ldb + bCols, "B", "gemm");

        var first = betaZero ? HostGemm.Update.Overwrite
            : Scalar<T>.ToDouble(beta) == 1 ? HostGemm.Update.Accumulate
            : HostGemm.Update.Scale;
        var job = Interlocked.Exchange(ref _cachedJob, null) ?? new GemmJob();
        try
        {
            Run(job, s, pathRows, alpha, a, b, beta, c, first);
        }
        finally
        {
            // Drop the references to the operands; keep the packing buffers.
            job.A = job.B = job.C = [];
            Volatile.Write(ref _cachedJob, job);
        }
    }

    private static void Run(GemmJob job, GemmShape s, int pathRows, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c, HostGemm.Update first)
    {
        if (s.TransA == 0 && s.TransB != 0 && pathRows <= DotMaxRows)
        {
            if (Vector512.IsHardwareAccelerated && s.K >= 4 * Vector512<T>.Count)
                Dot<Vector512<T>, Simd512<T>>(job, s, alpha, a, b, beta, c, first);
            else if (Vector256.IsHardwareAccelerated)
                Dot<Vector256<T>, Simd256<T>>(job, s, alpha, a, b, beta, c, first);
            else
                Dot<Vector128<T>, Simd128<T>>(job, s, alpha, a, b, beta, c, first);
        }
        else if (Vector512.IsHardwareAccelerated)
            Blocked<Vector512<T>, Simd512<T>>(job, s, alpha, a, b, beta, c, first);
        else if (Vector256.IsHardwareAccelerated)
            Blocked<Vector256<T>, Simd256<T>>(job, s, alpha, a, b, beta, c, first);
        else
            Blocked<Vector128<T>, Simd128<T>>(job, s, alpha, a, b, beta, c, first);
    }

    /// <summary>C = β·C over the M × N block (an empty product, K = 0).</summary>
    private static void ScaleRows(GemmShape s, T beta, bool betaZero, Span<T> c)
    {
        for (int r = 0; r < s.M; r++)
        {
            var row = c.Slice(r * s.Ldc, s.N);
            if (betaZero)
            {
                row.Clear();
                continue;
            }

            for (int j = 0; j < row.Length; j++)
                row[j] = Scalar<T>.Mul(beta, row[j]);
        }
    }

    private static void Blocked<TV, TS>(GemmJob job, GemmShape s, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c, HostGemm.Update first)
        where TV : struct
        where TS : ISimd<T, TV>
    {
        int nr = 2 * TS.Count;
        int mcMax = Math.Min(HostGemm.MC<T>(), RoundUp(s.M, HostGemm.MR));
        int ncMax = Math.Min(HostGemm.NC<T>() / nr * nr, RoundUp(s.N, nr));
        int kcMax = Math.Min(HostGemm.KC, s.K);
        Grow(ref job.PackedA, mcMax * kcMax);
        Grow(ref job.PackedB, ncMax * kcMax);
        var aSpan = HostBuffer<T>.Span(a);
        var bSpan = HostBuffer<T>.Span(b);
        job.C = HostBuffer<T>.ArrayOf(c);
        job.COffset = (int)c.Offset;
        job.Ldc = s.Ldc;
        job.Alpha = alpha;
        job.Beta = beta;
        for (int jc = 0; jc < s.N; jc += ncMax)
        {
            int nc = Math.Min(ncMax, s.N - jc);
            for (int pc = 0; pc < s.K; pc += kcMax)
            {
                int kc = Math.Min(kcMax, s.K - pc);
                HostGemm.PackB<T>(s, bSpan, pc, kc, jc, nc, nr, job.PackedB);
                for (int ic = 0; ic < s.M; ic += mcMax)
                {
                    int mc = Math.Min(mcMax, s.M - ic);
                    HostGemm.PackA<T>(s, aSpan, ic, mc, pc, kc, job.PackedA);
                    job.Row0 = ic;
                    job.Col0 = jc;
                    job.Rows = mc;
                    job.Cols = nc;
                    job.Kc = kc;
                    job.RowPanels = (mc + HostGemm.MR - 1) / HostGemm.MR;
                    job.ColPanels = (nc + nr - 1) / nr;
                    job.Mode = pc == 0 ? first : HostGemm.Update.Accumulate;
                    // Split the side with more panels; each worker keeps its B panel in L1 while
                    // it walks the A panels.
                    job.SplitColumns = job.ColPanels >= job.RowPanels || job.ColPanels >= 2 * HostParallel.Cores;
                    int items = job.SplitColumns ? job.ColPanels : job.RowPanels;
                    int chunks = HostParallel.Chunks(items, (long)mc * nc * kc);
                    HostParallel.For(items, chunks, job, Tiles<TV, TS>.Run);
                }
            }
        }
    }

    private static void Dot<TV, TS>(GemmJob job, GemmShape s, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c, HostGemm.Update first)
        where TV : struct
        where TS : ISimd<T, TV>
    {
        job.A = HostBuffer<T>.ArrayOf(a);
        job.AOffset = (int)a.Offset;
        job.Lda = s.Lda;
        job.B = HostBuffer<T>.ArrayOf(b);
        job.BOffset = (int)b.Offset;
        job.Ldb = s.Ldb;
        job.C = HostBuffer<T>.ArrayOf(c);
        job.COffset = (int)c.Offset;
        job.Ldc = s.Ldc;
        job.Rows = s.M;
        job.Cols = s.N;
        job.K = s.K;
        job.Alpha = alpha;
        job.Beta = beta;
        job.Mode = first;
        int pairs = (s.N + HostGemmDot.Cols - 1) / HostGemmDot.Cols;
        HostParallel.For(pairs, HostParallel.Chunks(pairs, (long)s.M * s.N * s.K), job, Tiles<TV, TS>.Dot);
    }

    private static void RunDot<TV, TS>(GemmJob job, int start, int end)
        where TV : struct
        where TS : ISimd<T, TV>
    {
        HostGemmDot.Run<T, TV, TS>(
            job.Rows, start * HostGemmDot.Cols, Math.Min(end * HostGemmDot.Cols, job.Cols), job.K,
            ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.A), job.AOffset), job.Lda,
            ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.B), job.BOffset), job.Ldb,
            ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.C), job.COffset), job.Ldc,
            job.Alpha, job.Beta, job.Mode);
    }

    private static void RunTiles<TV, TS>(GemmJob job, int start, int end)
        where TV : struct
        where TS : ISimd<T, TV>
    {
        int nr = 2 * TS.Count;
        int kc = job.Kc;
        Span<T> tile = stackalloc T[HostGemm.MR * nr];
        ref T tileRef = ref MemoryMarshal.GetReference(tile);
        ref T packedA = ref MemoryMarshal.GetArrayDataReference(job.PackedA);
        ref T packedB = ref MemoryMarshal.GetArrayDataReference(job.PackedB);
        ref T c = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.C), job.COffset);
        int j0 = job.SplitColumns ? start : 0;
        int j1 = job.SplitColumns ? end : job.ColPanels;
        int i0 = job.SplitColumns ? 0 : start;
        int i1 = job.SplitColumns ? job.RowPanels : end;
        for (int jp = j0; jp < j1; jp++)
        {
            ref T bPanel = ref Unsafe.Add(ref packedB, (nint)jp * nr * kc);
            int col = jp * nr;
            int cols = Math.Min(nr, job.Cols - col);
            for (int ip = i0; ip < i1; ip++)
            {
                HostGemm.MicroKernel<T, TV, TS>(kc, ref Unsafe.Add(ref packedA, (nint)ip * HostGemm.MR * kc), ref bPanel, ref tileRef);
                int row = ip * HostGemm.MR;
                int rows = Math.Min(HostGemm.MR, job.Rows - row);
                ref T corner = ref Unsafe.Add(ref c, (nint)(job.Row0 + row) * job.Ldc + job.Col0 + col);
                HostGemm.Store<T, TV, TS>(ref tileRef, ref corner, job.Ldc, rows, cols, job.Alpha, job.Beta, job.Mode);
            }
        }
    }

    private static int RoundUp(int n, int multiple) => (n + multiple - 1) / multiple * multiple;

    /// <summary>Grows a cached scratch array to at least <paramref name="length"/> elements (never shrinks).</summary>
    private static void Grow(ref T[] scratch, int length)
    {
        if (scratch.Length < length)
            scratch = GC.AllocateUninitializedArray<T>(length, pinned: true);
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>The host GEMM: see <see cref="CpuGemm"/> for the blocking.</summary>
internal sealed partial class CpuOps<T>
{
    /// <summary>Rows of the GEMM's register block (what <c>lstm selftest</c> reports as the tile).</summary>
    public const int GemmRowBlock = CpuGemm.MR;

    /// <summary>The cached job with its packing buffers; null while a GEMM holds it.</summary>
    private GemmJob? _cachedJob = new();

    /// <summary>Packed op(B) of the few-row GEMMs (the recurrent weights), kept across calls.</summary>
    private readonly PackedOperandCache<T> _packed = new();

    /// <summary>The packed-operand cache (for tests: its hit and pack counts).</summary>
    internal PackedOperandCache<T> PackedOperands => _packed;

    /// <summary>
    /// The state of the GEMM block being computed, shared with the workers. One is cached per
    /// instance, so a GEMM allocates nothing; a GEMM issued from a second thread while the first
    /// runs gets a job of its own.
    /// </summary>
    private sealed class GemmJob
    {
        public T[] PackedB = [];

        /// <summary>The B panels in use, from <see cref="BStart"/> on: <see cref="PackedB"/> or a cached operand's.</summary>
        public T[] BPanels = [];
        public int BStart;

        /// <summary>op(A) as stored, read in place by every product: row r, step k at AOffset + r·ARow + k·AStep.</summary>
        public T[] A = [];
        public int AOffset;
        public int ARow;
        public int AStep;
        public T[] C = [];
        public int COffset;
        public int Ldc;
        public int Row0;
        public int Col0;
        public int Rows;
        public int Cols;
        public int K;
        public int Kc;
        public int RowPanels;
        public int ColPanels;
        public int NPad;
        public bool SplitColumns;
        public T Alpha;
        public T Beta;
        public CpuGemm.Update Mode;
        public CpuGemm.Update First;

        // The operands of a parallel packing step.
        public GemmShape Shape;
        public T[] Source = [];
        public int SourceOffset;
        public int SourceLength;
        public int PackRow0;
        public int PackRows;
        public int PackK0;
        public int Nr;
    }

    /// <summary>The workers' entry points, one per register type, made once.</summary>
    private static class Tiles<TV, TS>
        where TV : struct
        where TS : ISimd<T, TV>
    {
        public static readonly Action<GemmJob, int, int> Run = RunTiles<TV, TS>;

        public static readonly Action<GemmJob, int, int> Few = RunFewRows<TV, TS>;

        public static readonly Action<GemmJob, int, int> FewWide = RunFewRowsWide<TV, TS>;
    }

    /// <summary>Packs panels of B in parallel.</summary>
    private static readonly Action<GemmJob, int, int> PackBPanels = (job, start, end) =>
        CpuGemm.PackB<T>(job.Shape, job.Source.AsSpan(job.SourceOffset, job.SourceLength), job.PackK0, job.Kc, job.PackRow0, job.PackRows, job.Nr, start, end, job.BPanels);

    /// <summary>Packs a whole op(B) for the cache: each K block's panels, block pc at pc · Npad.</summary>
    private static readonly PackedOperandCache<T>.Packer PackWholeB = (s, b, nr, panels) =>
    {
        var src = CpuBuffer<T>.ReadOnly(b);
        int nPad = RoundUp(s.N, nr);
        int colPanels = nPad / nr;
        for (int pc = 0; pc < s.K; pc += CpuGemm.KC)
        {
            int kc = Math.Min(CpuGemm.KC, s.K - pc);
            CpuGemm.PackB<T>(s, src, pc, kc, 0, s.N, nr, 0, colPanels, panels.Slice(pc * nPad));
        }
    };

    /// <summary>
    /// Most rows of C for which op(B) is packed once and cached across calls (<see cref="PackedOperandCache{T}"/>):
    /// the recurrent products of a step, [B, H] × W_hhᵀ and [B, 4H] × W_hh, whose B is the same
    /// weight at every step; above it, packing B costs little next to the product.
    /// </summary>
    public const int FewRowsMax = 96;

    /// <summary>
    /// Deepest K of the few-row path (all of op(A), FewRowsMax × K, is packed at once): a recurrent
    /// product's K is H or 4H; a deeper few-row product (the weight gradient of a tiny layer over
    /// many steps) takes the blocked path, whose packed A is one block.
    /// </summary>
    public const int FewRowsMaxK = 16384;

    protected override void GemmCore(GemmShape shape, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c) =>
        Gemm(shape, shape.M, alpha, a, b, beta, c);

    /// <remarks>
    /// Each kernel computes every element of C in an order that depends only on K, never on the
    /// row's place; only the choice between the few-rows kernel (at most <see cref="FewRowsMax"/>
    /// rows, over a cached packed op(B)) and the blocked one depends on M, so it is made by the
    /// whole product's rows.
    /// </remarks>
    protected override void GemmRowsCore(GemmShape shape, int wholeRows, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c) =>
        Gemm(shape, wholeRows, alpha, a, b, beta, c);

    /// <summary>
    /// The GEMM, its kernel chosen as for a product of <paramref name="pathRows"/> rows; at a reduced
    /// <see cref="Precision"/>, of the operands rounded (unless <paramref name="exact"/>: they are already).
    /// </summary>
    private void Gemm(GemmShape shape, int pathRows, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c, bool exact = false)
    {
        var s = shape;
        if (s.M == 0 || s.N == 0)
            return;
        bool betaZero = Scalar<T>.ToDouble(beta) == 0;
        if (s.K == 0)
        {
            ScaleRows(s, beta, betaZero, CpuBuffer<T>.Span(c));
            return;
        }

        if (Reduced && !exact)
        {
            ReducedGemm(s, pathRows, alpha, a, b, beta, c);
            return;
        }

        var first = betaZero ? CpuGemm.Update.Overwrite
            : Scalar<T>.ToDouble(beta) == 1 ? CpuGemm.Update.Accumulate
            : CpuGemm.Update.Scale;
        var job = Interlocked.Exchange(ref _cachedJob, null) ?? new GemmJob();
        try
        {
            if (Vector512.IsHardwareAccelerated)
                Run<Vector512<T>, Simd512<T>>(job, s, pathRows, alpha, a, b, beta, c, first);
            else if (Vector256.IsHardwareAccelerated)
                Run<Vector256<T>, Simd256<T>>(job, s, pathRows, alpha, a, b, beta, c, first);
            else
                Run<Vector128<T>, Simd128<T>>(job, s, pathRows, alpha, a, b, beta, c, first);
        }
        finally
        {
            // Drop the references to the operands; keep the packing buffers.
            job.BPanels = job.C = job.Source = job.A = [];
            Volatile.Write(ref _cachedJob, job);
        }
    }

    private void Run<TV, TS>(GemmJob job, GemmShape s, int pathRows, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c, CpuGemm.Update first)
        where TV : struct
        where TS : ISimd<T, TV>
    {
        if (TakesFewRowPath(s, pathRows))
        {
            int width = FewRowWidth(pathRows);
            var entry = _packed.Rent(s, b, width, PackWholeB);
            if (entry is null)
            {
                // First sight of this operand: pack it into the job's scratch.
                Grow(ref job.PackedB, (int)PackedOperandCache<T>.PackedLength(s.K, s.N, width));
                PackWholeB(s, b, width, job.PackedB);
                FewRows<TV, TS>(job, s, alpha, a, job.PackedB, 0, width, beta, c, first);
                return;
            }

            try
            {
                FewRows<TV, TS>(job, s, alpha, a, entry.Panels, entry.Start, width, beta, c, first);
            }
            finally
            {
                _packed.Return(entry);
            }
        }
        else
        {
            Blocked<TV, TS>(job, s, alpha, a, b, beta, c, first);
        }
    }

    /// <summary>Whether a product of <paramref name="pathRows"/> rows runs the few-row kernel over a cached packed op(B).</summary>
    internal static bool TakesFewRowPath(GemmShape s, int pathRows) =>
        pathRows <= FewRowsMax && PackedOperandCache<T>.Fits(s, FewRowWidth(pathRows));

    /// <summary>
    /// Columns per panel of the few-row path's packed op(B): one or two rows with AVX-512 take
    /// <see cref="CpuGemm.Kernel4{T, TV, TS, TRows}"/> over wide panels of four register panels
    /// (8·Count columns, one stream from L2); more rows, or narrower registers, panels of 2·Count.
    /// </summary>
    internal static int FewRowWidth(int pathRows)
    {
        if (Vector512.IsHardwareAccelerated)
            return pathRows <= 2 ? 8 * Vector512<T>.Count : 2 * Vector512<T>.Count;
        return 2 * (Vector256.IsHardwareAccelerated ? Vector256<T>.Count : Vector128<T>.Count);
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

    /// <summary>
    /// The A block of <see cref="ComputeBlock"/>: the job's op(A) read where it is stored, in panels
    /// of MR rows (panel ip at ip · MR · Row; row r, step k at r · Row + k · Step: Row lda and Step
    /// 1, or 1 and lda for a transposed A).
    /// </summary>
    private readonly ref struct BlockA
    {
        private readonly ref T _first;
        private readonly nint _panel;

        /// <summary>The block whose element (0, 0) is element <paramref name="offset"/> of the job's A.</summary>
        public BlockA(GemmJob job, int offset)
        {
            _first = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.A), offset);
            Row = job.ARow;
            Step = job.AStep;
            _panel = CpuGemm.MR * Row;
        }

        /// <summary>Elements from row 0 of a panel to row 1.</summary>
        public nint Row { get; }

        /// <summary>Elements from step k of a panel to step k + 1.</summary>
        public nint Step { get; }

        /// <summary>Row 0, step 0 of panel <paramref name="ip"/>.</summary>
        public ref T Panel(int ip) => ref Unsafe.Add(ref _first, ip * _panel);
    }

    /// <summary>
    /// C[rows of panels ip0…ip1, columns of panel pairs jp0…jp1] (+)= packed A block · packed B
    /// block: for each pair of B panels (kept close in cache), every A panel; one A panel of one
    /// or two rows takes two pairs at once. <paramref name="tile"/> holds 4 · MR · 2·Count elements.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ComputeBlock<TV, TS>(
        int kc, in BlockA blockA, int ip0, int ip1, int rowsValid, ref T packedB, int pair0, int pair1, int colPanels, int colsValid,
        ref T c, int ldc, T alpha, T beta, CpuGemm.Update mode, ref T tile)
        where TV : struct
        where TS : ISimd<T, TV>
    {
        int nr = 2 * TS.Count;
        // Two panels at once need 29 vector registers: AVX-512 has 32.
        bool wide = Unsafe.SizeOf<TV>() == 64;
        ref T tile1 = ref Unsafe.Add(ref tile, CpuGemm.MR * nr);
        int fewRows = ip1 - ip0 == 1 ? rowsValid - ip0 * CpuGemm.MR : 0;
        for (int pair = pair0; pair < pair1; pair++)
        {
            int jp = 2 * pair;
            if (wide && fewRows is 1 or 2 && pair + 1 < pair1 && jp + 3 < colPanels)
            {
                // One or two rows (of a larger product's part, or the blocked path's last rows;
                // the few-row path's own take wide panels): two pairs of panels at once, for
                // enough independent FMA chains.
                ref T q0 = ref Unsafe.Add(ref packedB, (nint)jp * nr * kc);
                ref T panel = ref blockA.Panel(ip0);
                if (fewRows == 1)
                    CpuGemm.Kernel4<T, TV, TS, CpuGemm.C1>(kc, ref panel, blockA.Row, blockA.Step, ref q0, (nint)nr * kc, nr, ref tile);
                else
                    CpuGemm.Kernel4<T, TV, TS, CpuGemm.C2>(kc, ref panel, blockA.Row, blockA.Step, ref q0, (nint)nr * kc, nr, ref tile);
                ref T corner4 = ref Unsafe.Add(ref c, (nint)ip0 * CpuGemm.MR * ldc + jp * nr);
                for (int q = 0; q < 4; q++)
                {
                    CpuGemm.Store<T, TV, TS>(
                        ref Unsafe.Add(ref tile, q * CpuGemm.MR * nr), ref Unsafe.Add(ref corner4, q * nr), ldc, fewRows,
                        Math.Min(nr, colsValid - (jp + q) * nr), alpha, beta, mode);
                }

                pair++;
                continue;
            }

            bool two = jp + 1 < colPanels;
            ref T b0 = ref Unsafe.Add(ref packedB, (nint)jp * nr * kc);
            ref T b1 = ref two ? ref Unsafe.Add(ref b0, nr * kc) : ref b0;
            int col = jp * nr;
            int cols0 = Math.Min(nr, colsValid - col);
            int cols1 = two ? Math.Min(nr, colsValid - col - nr) : 0;
            for (int ip = ip0; ip < ip1; ip++)
            {
                int row = ip * CpuGemm.MR;
                int rows = Math.Min(CpuGemm.MR, rowsValid - row);
                ref T panelA = ref blockA.Panel(ip);
                ref T corner = ref Unsafe.Add(ref c, (nint)row * ldc + col);
                if (two && !wide)
                {
                    // 16 vector registers (AVX2, SSE): one panel at a time, 12 accumulators.
                    CpuGemm.KernelFor<T, TV, TS>(rows, false, kc, ref panelA, blockA.Row, blockA.Step, ref b0, ref b0, ref tile);
                    CpuGemm.Store<T, TV, TS>(ref tile, ref corner, ldc, rows, cols0, alpha, beta, mode);
                    CpuGemm.KernelFor<T, TV, TS>(rows, false, kc, ref panelA, blockA.Row, blockA.Step, ref b1, ref b1, ref tile);
                    CpuGemm.Store<T, TV, TS>(ref tile, ref Unsafe.Add(ref corner, nr), ldc, rows, cols1, alpha, beta, mode);
                    continue;
                }

                CpuGemm.KernelFor<T, TV, TS>(rows, two, kc, ref panelA, blockA.Row, blockA.Step, ref b0, ref b1, ref tile);
                CpuGemm.Store<T, TV, TS>(ref tile, ref corner, ldc, rows, cols0, alpha, beta, mode);
                if (cols1 > 0)
                    CpuGemm.Store<T, TV, TS>(ref tile1, ref Unsafe.Add(ref corner, nr), ldc, rows, cols1, alpha, beta, mode);
            }
        }
    }

    private static void Blocked<TV, TS>(GemmJob job, GemmShape s, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c, CpuGemm.Update first)
        where TV : struct
        where TS : ISimd<T, TV>
    {
        int nr = 2 * TS.Count;
        int mcMax = Math.Min(CpuGemm.MC<T>(), RoundUp(s.M, CpuGemm.MR));
        int ncMax = Math.Min(CpuGemm.NC<T>() / nr * nr, RoundUp(s.N, nr));
        int kcMax = Math.Min(CpuGemm.KC, s.K);
        Grow(ref job.PackedB, ncMax * kcMax);
        job.BPanels = job.PackedB;
        job.BStart = 0;
        (job.C, job.COffset) = CpuBuffer<T>.ArrayAt(c);
        job.Ldc = s.Ldc;
        job.Alpha = alpha;
        job.Beta = beta;
        job.Shape = s;
        job.Nr = nr;
        var (aArray, aOffset) = CpuBuffer<T>.ReadOnlyArrayAt(a);
        var (bArray, bOffset) = CpuBuffer<T>.ReadOnlyArrayAt(b);
        // op(A) is read where it is stored: a panel's MR rows are MR streams along k, or (A
        // transposed) MR neighbours in each row of A, one row of A a step.
        job.A = aArray;
        (job.ARow, job.AStep) = AStrides(s);
        for (int jc = 0; jc < s.N; jc += ncMax)
        {
            int nc = Math.Min(ncMax, s.N - jc);
            int colPanels = (nc + nr - 1) / nr;
            for (int pc = 0; pc < s.K; pc += kcMax)
            {
                int kc = Math.Min(kcMax, s.K - pc);
                job.Kc = kc;
                job.Source = bArray;
                job.SourceOffset = bOffset;
                job.SourceLength = (int)b.Length;
                job.PackK0 = pc;
                job.PackRow0 = jc;
                job.PackRows = nc;
                CpuParallel.For(colPanels, CpuParallel.Chunks(colPanels, (long)nc * kc * 16), job, PackBPanels);
                for (int ic = 0; ic < s.M; ic += mcMax)
                {
                    int mc = Math.Min(mcMax, s.M - ic);
                    int rowPanels = (mc + CpuGemm.MR - 1) / CpuGemm.MR;
                    // The block's element (0, 0): op(A)[ic, pc].
                    job.AOffset = aOffset + ic * job.ARow + pc * job.AStep;
                    job.Row0 = ic;
                    job.Col0 = jc;
                    job.Rows = mc;
                    job.Cols = nc;
                    job.RowPanels = rowPanels;
                    job.ColPanels = colPanels;
                    job.Mode = pc == 0 ? first : CpuGemm.Update.Accumulate;
                    // Split the side with more work items; each worker keeps its B panels close
                    // while it walks the A panels.
                    int pairs = (colPanels + 1) / 2;
                    job.SplitColumns = pairs >= rowPanels || pairs >= 2 * CpuParallel.Cores;
                    int items = job.SplitColumns ? pairs : rowPanels;
                    int chunks = CpuParallel.Chunks(items, (long)mc * nc * kc);
                    CpuParallel.For(items, chunks, job, Tiles<TV, TS>.Run);
                }
            }
        }
    }

    private static void RunTiles<TV, TS>(GemmJob job, int start, int end)
        where TV : struct
        where TS : ISimd<T, TV>
    {
        int nr = 2 * TS.Count;
        Span<T> tile = stackalloc T[4 * CpuGemm.MR * nr];
        int pairs = (job.ColPanels + 1) / 2;
        var blockA = new BlockA(job, job.AOffset);
        ComputeBlock<TV, TS>(
            job.Kc, blockA,
            job.SplitColumns ? 0 : start, job.SplitColumns ? job.RowPanels : end, job.Rows,
            ref MemoryMarshal.GetArrayDataReference(job.BPanels),
            job.SplitColumns ? start : 0, job.SplitColumns ? end : pairs, job.ColPanels, job.Cols,
            ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.C), (nint)job.COffset + (nint)job.Row0 * job.Ldc + job.Col0),
            job.Ldc, job.Alpha, job.Beta, job.Mode, ref MemoryMarshal.GetReference(tile));
    }

    /// <summary>Elements from row r of op(A) to row r + 1, and from step k to k + 1, in A as stored.</summary>
    private static (int Row, int Step) AStrides(GemmShape s) => s.TransA != 0 ? (1, s.Lda) : (s.Lda, 1);

    private static int RoundUp(int n, int multiple) => (n + multiple - 1) / multiple * multiple;

    /// <summary>Grows a cached scratch array to at least <paramref name="length"/> elements (never shrinks).</summary>
    private static void Grow(ref T[] scratch, int length)
    {
        if (scratch.Length < length)
            scratch = GC.AllocateUninitializedArray<T>(length, pinned: true);
    }
}

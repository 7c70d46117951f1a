using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Cpu;

/// <content>
/// The whole-loop LSTM's per-core work: a core's share of the rows or units, its forward and
/// backward steps, the gate-panel packing of W_hh, and the barrier where the cores meet each step.
/// </content>
internal sealed partial class CpuOps<T>
{
    /// <summary>A core's part of the loop: rows [R0, R1) and hidden units [U0, U1).</summary>
    private readonly record struct Share(int R0, int R1, int U0, int U1);

    /// <summary>
    /// Rows a core's share holds at least when the cores split the rows (<see cref="SequenceJob.ByRows"/>).
    /// Each core then streams all of W_hh every step (from L3 once it outgrows L2) for 2·rows flops
    /// a weight: at 16 rows a share the product stays bound by the FMAs and the cores never wait for
    /// each other; with fewer rows a share, splitting the units is faster.
    /// </summary>
    private const int RowShareMin = 16;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardShare<TV, TS, TVariant>(SequenceJob job, Share share, StepBarrier? barrier, int party)
        where TV : struct
        where TS : ISimd<T, TV>
        where TVariant : IVariant
    {
        var a = job.Forward;
        var s = job.Shape;
        int batch = a.Batch, hidden = a.Hidden, steps = a.Steps;
        int n = batch * hidden;
        int g = 4 * hidden;
        int nr = 2 * TS.Count;
        var (r0, r1, u0, u1) = share;
        Span<T> tile = stackalloc T[4 * CpuGemm.MR * nr];
        ref T tileRef = ref MemoryMarshal.GetReference(tile);
        ref T x = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.X), job.XOff);
        ref T output = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.Out), job.OutOff);
        ref T cells = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.Cells), job.CellsOff);
        ref T hproj = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.HProj), job.HProjOff);
        ref T acts = ref TVariant.StoresActivations ? ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.Acts), job.ActsOff) : ref x;
        ref T bi = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.Bi), job.BiOff);
        ref T bh = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.Bh), job.BhOff);
        nuint biasStride = ReferenceEquals(job.Bi, job.Zeros) ? 0u : 1u;
        ref T h0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.H0), job.H0Off);
        ref T c0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.C0), job.C0Off);
        bool gatePanels = job.Width != nr;
        bool bf16 = typeof(T) == typeof(float) && job.Bf16;
        ref T panels = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.Panels), job.PanelsStart);
        ref T rounded = ref MemoryMarshal.GetArrayDataReference(job.RoundedA);
        T one = Scalar<T>.FromDouble(1);
        for (int step = 0; step < steps; step++)
        {
            int t = a.Reverse ? steps - 1 - step : step;
            int tPrev = a.Reverse ? t + 1 : t - 1;
            ref T hPrev = ref step == 0 ? ref h0 : ref Unsafe.Add(ref output, (nint)tPrev * n);
            // BF16: h_{t-1} rounded (h0 by the caller, at odd slot), h_t rounded into the other slot.
            ref T hRounded = ref Unsafe.Add(ref rounded, bf16 ? ((step + 1) & 1) * job.RoundedLength : 0);
            ref T hNext = ref Unsafe.Add(ref rounded, bf16 ? (step & 1) * job.RoundedLength : 0);
            ref T cPrev = ref step == 0 ? ref c0 : ref Unsafe.Add(ref cells, (nint)(a.StoreCells ? tPrev : (step - 1) & 1) * n);
            ref T c = ref Unsafe.Add(ref cells, (nint)(a.StoreCells ? t : step & 1) * n);
            ref T xt = ref Unsafe.Add(ref x, (nint)t * 4 * n);
            ref T at = ref Unsafe.Add(ref acts, TVariant.StoresActivations ? (nint)t * 4 * n : 0);
            if (gatePanels)
            {
                // One or two rows: each block of nr units gets its four gates' columns of hproj
                // (one pass over its gate panel), then its cell, while the product's loads of the
                // next block go on; the step's xproj of the share is fetched ahead of the cells.
                PrefetchUnits(ref xt, 4 * batch, hidden, u0, u1);
                for (int ub = u0 / nr; ub * nr < u1; ub++)
                {
                    int j0 = ub * nr, cols = Math.Min(u1, j0 + nr) - j0;
                    for (int pc = 0; pc < s.K; pc += CpuGemm.KC)
                    {
                        int kc = Math.Min(CpuGemm.KC, s.K - pc);
                        var mode = pc == 0 ? CpuGemm.Update.Overwrite : CpuGemm.Update.Accumulate;
                        nint offset = (nint)pc * job.NPad + (nint)ub * 4 * nr * kc;
                        if (bf16)
                        {
                            // Half the elements: the BF16 panel's words, two to an element.
                            WidePanelBf16(kc, batch, ref Unsafe.Add(ref hRounded, pc), s.Lda, ref Unsafe.Add(ref panels, offset / 2), ref tileRef);
                        }
                        else
                        {
                            WidePanel<TV, TS>(kc, batch, ref Unsafe.Add(ref hPrev, pc), s.Lda, 1, ref Unsafe.Add(ref panels, offset), ref tileRef);
                        }

                        for (int q = 0; q < 4; q++)
                        {
                            CpuGemm.Store<T, TV, TS>(
                                ref Unsafe.Add(ref tileRef, q * CpuGemm.MR * nr), ref Unsafe.Add(ref hproj, q * hidden + j0), g, batch, cols,
                                one, default, mode);
                        }
                    }

                    ForwardRows<TVariant>(hidden, biasStride, ref xt, ref hproj, ref bi, ref bh, ref cPrev, ref c, ref Unsafe.Add(ref output, (nint)t * n), ref at, r0, r1, j0, j0 + cols);
                    if (bf16)
                    {
                        for (int r = r0; r < r1; r++)
                        {
                            nint at0 = (nint)r * hidden + j0;
                            RoundBf16(ref Unsafe.Add(ref output, (nint)t * n + at0), ref Unsafe.Add(ref hNext, at0), cols);
                        }
                    }
                }

                barrier?.SignalAndWait(party);
                continue;
            }

            // hproj [B, 4H] of this share's rows and gate columns = h_{t-1} W_hhᵀ.
            if (u0 == 0 && u1 == hidden)
            {
                ShareColumns<TV, TS>(job, ref hPrev, r0, r1, 0, g, ref hproj, g, ref tileRef);
            }
            else
            {
                for (int gate = 0; gate < 4; gate++)
                    ShareColumns<TV, TS>(job, ref hPrev, r0, r1, gate * hidden + u0, gate * hidden + u1, ref hproj, g, ref tileRef);
            }

            ForwardRows<TVariant>(hidden, biasStride, ref xt, ref hproj, ref bi, ref bh, ref cPrev, ref c, ref Unsafe.Add(ref output, (nint)t * n), ref at, r0, r1, u0, u1);
            barrier?.SignalAndWait(party);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardShare<TV, TS>(SequenceJob job, Share share, StepBarrier? barrier, int party)
        where TV : struct
        where TS : ISimd<T, TV>
    {
        var a = job.Backward;
        var s = job.Shape;
        int batch = a.Batch, hidden = a.Hidden, steps = a.Steps;
        int n = batch * hidden;
        int nr = 2 * TS.Count;
        var (r0, r1, u0, u1) = share;
        Span<T> tile = stackalloc T[4 * CpuGemm.MR * nr];
        ref T tileRef = ref MemoryMarshal.GetReference(tile);
        ref T dy = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.X), job.XOff);
        ref T acts = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.Acts), job.ActsOff);
        ref T cells = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.Cells), job.CellsOff);
        ref T c0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.C0), job.C0Off);
        ref T dc = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.H0), job.H0Off);
        ref T dh = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.HProj), job.HProjOff);
        ref T dgates = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.Out), job.OutOff);
        bool gatePanels = job.Width != nr;
        bool bf16 = typeof(T) == typeof(float) && job.Bf16;
        ref T rounded = ref MemoryMarshal.GetArrayDataReference(job.RoundedA);
        for (int step = steps - 1; step >= 0; step--)
        {
            int t = a.Reverse ? steps - 1 - step : step;
            int tPrev = a.Reverse ? t + 1 : t - 1;
            ref T cPrev = ref step == 0 ? ref c0 : ref Unsafe.Add(ref cells, (nint)tPrev * n);
            BackwardRows(
                hidden, ref Unsafe.Add(ref dy, (nint)t * n), ref dh, ref dc, ref Unsafe.Add(ref acts, (nint)t * 4 * n),
                ref Unsafe.Add(ref cells, (nint)t * n), ref cPrev, ref Unsafe.Add(ref dgates, (nint)t * 4 * n), r0, r1, u0, u1);
            ref T dg = ref Unsafe.Add(ref dgates, (nint)t * 4 * n);
            if (bf16)
            {
                // The product's op(A): this share's gate gradients rounded to BF16, in the step's slot
                // (the other cores may still read the previous step's).
                dg = ref Unsafe.Add(ref rounded, (step & 1) * job.RoundedLength);
                for (int r = r0; r < r1; r++)
                {
                    for (int q = 0; q < 4; q++)
                    {
                        nint at0 = (nint)r * 4 * hidden + q * hidden + u0;
                        RoundBf16(ref Unsafe.Add(ref dgates, (nint)t * 4 * n + at0), ref Unsafe.Add(ref dg, at0), u1 - u0);
                    }
                }
            }

            // dh_{t-1} reads every gate gradient of the step.
            barrier?.SignalAndWait(party);

            // dh_{t-1} [B, H] of this share's units = dgates_t [B, 4H] · W_hh (dgates_t read in place over wide panels).
            if (gatePanels && barrier is not null)
            {
                // The other cores' gate gradients of this step, just written: fetched all at once,
                // not a line at a time as the product's broadcasts reach them.
                PrefetchUnits(ref dg, 4 * batch, hidden, 0, hidden);
            }

            if (gatePanels && step > 0)
            {
                // One or two rows: the next step's cell operands, fetched during this product.
                int tn = a.Reverse ? steps - step : step - 1;
                PrefetchUnits(ref Unsafe.Add(ref dy, (nint)tn * n), batch, hidden, u0, u1);
                PrefetchUnits(ref Unsafe.Add(ref acts, (nint)tn * 4 * n), 4 * batch, hidden, u0, u1);
                PrefetchUnits(ref Unsafe.Add(ref cells, (nint)tn * n), batch, hidden, u0, u1);
                PrefetchUnits(ref step == 1 ? ref c0 : ref Unsafe.Add(ref cells, (nint)(a.Reverse ? tn + 1 : tn - 1) * n), batch, hidden, u0, u1);
            }

            ShareColumns<TV, TS>(job, ref dg, r0, r1, u0, u1, ref dh, hidden, ref tileRef);
        }
    }

    /// <summary>
    /// Asks the cache for units [u0, u1) of <paramref name="rows"/> rows of H (a [B, H] operand has
    /// B rows, a [B, 4H] one 4·B), ahead of the cell that reads them: with one or two rows a step's
    /// cell reads a few lines of each operand, long since evicted to L3, and waits for them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PrefetchUnits(ref T first, int rows, int hidden, int u0, int u1)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported || u1 <= u0)
            return;
        int line = 64 / Unsafe.SizeOf<T>();
        for (int r = 0; r < rows; r++)
        {
            ref T row = ref Unsafe.Add(ref first, (nint)r * hidden);
            for (int u = u0; u < u1; u += line)
                System.Runtime.Intrinsics.X86.Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref row, u)));
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref row, u1 - 1)));
        }
    }

    /// <summary>
    /// Rows [rowStart, rowEnd) and columns [col0, col1) of C [M, N] (row stride ldc) = op(A) · the
    /// job's packed op(B), K block after K block as the few-row GEMM computes them; a panel that
    /// straddles col0 or col1 is computed whole and stored only inside the range. <paramref name="a"/>
    /// is op(A) as stored (rows s.Lda apart), read in place: a step's op(A) (h_{t-1}, or dgates_t
    /// backward) is a few rows already in cache, and packing it cost each core its own copy of it
    /// every step. With <see cref="SequenceJob.Bf16"/> (wide panels only) op(A) is the rounded copy.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ShareColumns<TV, TS>(SequenceJob job, ref T a, int rowStart, int rowEnd, int col0, int col1, ref T c, int ldc, ref T tile)
        where TV : struct
        where TS : ISimd<T, TV>
    {
        if (col1 <= col0 || rowEnd <= rowStart)
            return;
        var s = job.Shape;
        int m = rowEnd - rowStart;
        a = ref Unsafe.Add(ref a, (nint)rowStart * s.Lda);
        c = ref Unsafe.Add(ref c, (nint)rowStart * ldc);
        int nr = 2 * TS.Count;
        int width = job.Width;
        int rowPanels = (m + CpuGemm.MR - 1) / CpuGemm.MR;
        int p0 = col0 / width;
        int p1 = (col1 + width - 1) / width;
        ref T tile1 = ref Unsafe.Add(ref tile, CpuGemm.MR * nr);
        ref T bAll = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.Panels), job.PanelsStart);
        T one = Scalar<T>.FromDouble(1);
        for (int pc = 0; pc < s.K; pc += CpuGemm.KC)
        {
            int kc = Math.Min(CpuGemm.KC, s.K - pc);
            var mode = pc == 0 ? CpuGemm.Update.Overwrite : CpuGemm.Update.Accumulate;
            ref T pb = ref Unsafe.Add(ref bAll, (nint)pc * job.NPad);
            if (width != nr)
            {
                // One or two rows over wide panels, as the few-row GEMM computes them.
                ref T row0 = ref Unsafe.Add(ref a, pc);
                for (int wp = p0; wp < p1; wp++)
                {
                    nint offset = (nint)pc * job.NPad + (nint)wp * width * kc;
                    if (typeof(T) == typeof(float) && job.Bf16)
                        WidePanelBf16(kc, m, ref row0, s.Lda, ref Unsafe.Add(ref bAll, offset / 2), ref tile);
                    else
                        WidePanel<TV, TS>(kc, m, ref row0, s.Lda, 1, ref Unsafe.Add(ref bAll, offset), ref tile);
                    for (int q = 0; q < 4; q++)
                        StorePart<TV, TS>(ref Unsafe.Add(ref tile, q * CpuGemm.MR * nr), (4 * wp + q) * nr, col0, col1, s.N, ref c, ldc, m, one, mode);
                }

                continue;
            }

            // Two register panels at once with AVX-512 (32 registers), one with AVX2 or SSE; op(A) read in place.
            ref T pa = ref Unsafe.Add(ref a, pc);
            bool wide = Unsafe.SizeOf<TV>() == 64;
            for (int jp = p0; jp < p1; jp += wide ? 2 : 1)
            {
                bool two = wide && jp + 1 < p1;
                ref T b0 = ref Unsafe.Add(ref pb, (nint)jp * nr * kc);
                ref T b1 = ref two ? ref Unsafe.Add(ref b0, nr * kc) : ref b0;
                for (int ip = 0; ip < rowPanels; ip++)
                {
                    int row = ip * CpuGemm.MR;
                    int rows = Math.Min(CpuGemm.MR, m - row);
                    CpuGemm.KernelFor<T, TV, TS>(rows, two, kc, ref Unsafe.Add(ref pa, (nint)row * s.Lda), s.Lda, 1, ref b0, ref b1, ref tile);
                    ref T cRow = ref Unsafe.Add(ref c, (nint)row * ldc);
                    StorePart<TV, TS>(ref tile, jp * nr, col0, col1, s.N, ref cRow, ldc, rows, one, mode);
                    if (two)
                        StorePart<TV, TS>(ref tile1, (jp + 1) * nr, col0, col1, s.N, ref cRow, ldc, rows, one, mode);
                }
            }
        }
    }

    /// <summary>Stores the columns of a panel's tile (the panel starts at column <paramref name="panelCol"/>) that lie in [col0, col1) and inside N.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePart<TV, TS>(ref T tile, int panelCol, int col0, int col1, int n, ref T cRow, int ldc, int rows, T one, CpuGemm.Update mode)
        where TV : struct
        where TS : ISimd<T, TV>
    {
        int from = Math.Max(panelCol, col0);
        int to = Math.Min(Math.Min(panelCol + 2 * TS.Count, col1), n);
        if (to > from)
            CpuGemm.Store<T, TV, TS>(ref Unsafe.Add(ref tile, from - panelCol), ref Unsafe.Add(ref cRow, from), ldc, rows, to - from, one, default, mode);
    }

    /// <summary>
    /// The cores' meeting point at the end of each step. Each core counts its arrivals in a slot
    /// of its own (its own cache lines) and waits until every other core's count has reached its
    /// own: one cache-line transfer from the last to arrive to each waiter, where a shared counter
    /// takes two (the last arrival's atomic update of the line the waiters spin on, then their
    /// reads of it). The cores spin (the steps are microseconds apart), yielding to the OS when a
    /// core has been descheduled. A core that fails breaks it, so the others do not wait for ever.
    /// </summary>
    private sealed class StepBarrier
    {
        /// <summary>Elements between two slots: 128 bytes, two cache lines (the adjacent-line prefetcher's pair).</summary>
        private const int Stride = 16;

        private long[] _arrivals = new long[2 * Stride];
        private int _parties;
        private volatile bool _broken;

        /// <summary>≈ 50 µs in <see cref="System.Diagnostics.Stopwatch"/> ticks.</summary>
        private static readonly long YieldTicks = System.Diagnostics.Stopwatch.Frequency / 20_000;

        public void Reset(int parties)
        {
            if (_arrivals.Length < parties * Stride)
                _arrivals = new long[parties * Stride];
            else
                Array.Clear(_arrivals);
            _parties = parties;
            _broken = false;
        }

        public void Break() => _broken = true;

        /// <summary>Arrives as party <paramref name="party"/> (its share) and waits for the others' same arrival.</summary>
        public void SignalAndWait(int party)
        {
            ref long mine = ref _arrivals[party * Stride];
            long round = mine + 1;
            // Release: this step's results are visible to whoever sees the arrival.
            Volatile.Write(ref mine, round);
            for (int p = 0; p < _parties; p++)
            {
                if (p == party)
                    continue;
                ref long theirs = ref _arrivals[p * Stride];
                long since = 0;
                while (Volatile.Read(ref theirs) < round)
                {
                    if (_broken)
                        throw new LstmException("cpu lstm sequence: another core failed during the step");
                    // Spin without leaving the core for the first ~50 µs (a step is shorter), then
                    // yield it: the other core may have been descheduled.
                    if (since == 0)
                        since = System.Diagnostics.Stopwatch.GetTimestamp();
                    else if (System.Diagnostics.Stopwatch.GetTimestamp() - since > YieldTicks)
                        Thread.Yield();
                    Thread.SpinWait(1);
                }
            }
        }
    }
}

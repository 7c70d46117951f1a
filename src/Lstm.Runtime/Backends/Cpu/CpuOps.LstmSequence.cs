using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// An LSTM direction's whole time loop in one operation. Each core owns a share of the hidden
/// units: at every step it computes the gate columns of its units (hproj = h_{t-1} W_hhᵀ over
/// its panels of the cached packed W_hh, which stay in its own cache from step to step), runs the
/// cell on those units, and meets the other cores once, before the next step reads all of h_t.
/// Backward likewise: the cell backward of its units, one meeting (dh_{t-1} reads every gate
/// gradient of the step), then dh_{t-1} of its units. With enough rows (batch entries) the cores
/// split the rows instead, each running every unit of its rows, and never meet: a row's step
/// reads only its own row of h_{t-1} (forward) or of dgates_t (backward).
/// </summary>
/// <remarks>
/// Every element is computed by the same kernels in the same order as the per-step operations
/// (<see cref="IGemmOps{T}.Gemm"/> on the few-row path, <see cref="ILstmCellOps{T}.LstmCellForward"/>,
/// <see cref="ILstmCellOps{T}.LstmCellBackward"/>), so the results are the same bit for bit;
/// what goes is the per-step cost of handing each operation to the other cores and back
/// (fork, join, packing-cache look-up, argument checks): a few microseconds a step, which at
/// batch 1 was as much as the arithmetic. Shares are whole multiples of <see cref="UnitGrain"/>
/// units, so a core's gate columns begin on a panel boundary and the cell's 16-lane groups fall
/// where they fall in a whole row.
/// <para>
/// With one or two rows the forward product streams W_hh from L2 and the cell waits on long
/// chains of dependent arithmetic: there W_hh is packed as gate panels (<see cref="PackGatePanels"/>),
/// so one pass over a block's panel yields the four gates of its units and the block's cell runs
/// at once, overlapping the next block's loads (the fused epilogue). With the wide panels of
/// the backward product, batch-1 inference at (T 500, I 128, H 256) takes 18 % less time than
/// over register-width panels, training 15 % less (alternating in one process).
/// </para>
/// <para>
/// At <see cref="GemmPrecision.Bf16"/> the loop over wide panels (one or two rows) caches W_hh
/// as BF16 panels and rounds op(A) once a step (see the BF16 part of this class); other shapes and
/// the other reduced precisions step aside to the per-step operations.
/// </para>
/// </remarks>
internal sealed partial class CpuOps<T> : ILstmSequenceOps<T>
{
    /// <summary>Hidden units of one core's share come in multiples of this (a multiple of every register panel's width and of 16 lanes).</summary>
    public const int UnitGrain = 32;

    /// <summary>The cached state of a sequence operation; null while one runs.</summary>
    private SequenceJob? _cachedSequence = new();

    /// <summary>Everything the cores share during one sequence operation.</summary>
    private sealed class SequenceJob
    {
        /// <summary>W_hh packed here when the cache does not serve it.</summary>
        public T[] PackedB = [];

        /// <summary>A row of zeros standing in for the biases of bias=False.</summary>
        public readonly T[] Zeros = new T[64];

        public readonly StepBarrier Barrier = new();

        /// <summary>The packed W_hh in use, from <see cref="PanelsStart"/> on.</summary>
        public T[] Panels = [];
        public int PanelsStart;
        public LstmSequenceForward<T> Forward;
        public LstmSequenceBackward<T> Backward;
        public GemmShape Shape;
        public int Shares;
        public int Grain;

        /// <summary>
        /// Each core owns a share of the rows (batch entries) and all the hidden units, so the cores
        /// never meet: rows are independent in the recurrence. Else each owns a share of the units.
        /// </summary>
        public bool ByRows;

        /// <summary>
        /// Columns per panel of the packed W_hh (<see cref="FewRowWidth"/>): register-width panels;
        /// else one or two rows over wide panels, and forward W_hh packed as gate panels
        /// (<see cref="PackGatePanels"/>). Either way op(A) (h_{t-1}, or dgates_t) is read in place.
        /// </summary>
        public int Width;
        public int NPad;

        /// <summary>
        /// The product multiplies BF16 panels of W_hh by op(A) rounded to BF16 (see
        /// <see cref="Bf16Panels"/>): <see cref="Panels"/> holds their 16-bit words, two to an element.
        /// </summary>
        public bool Bf16;

        /// <summary>With <see cref="Bf16"/>, op(A) of the steps rounded to BF16: two copies of [B, lda], the step's at (step &amp; 1) · <see cref="RoundedLength"/>, the next step's in the other.</summary>
        public T[] RoundedA = [];
        public int RoundedLength;

        // The operands' arrays and offsets, resolved (and their versions advanced) once per call.
        public T[] X = [], Whh = [], Bi = [], Bh = [], H0 = [], C0 = [], Out = [], Cells = [], Acts = [], HProj = [];
        public int XOff, BiOff, BhOff, H0Off, C0Off, OutOff, CellsOff, ActsOff, HProjOff;

        public void Clear()
        {
            Panels = X = Whh = Bi = Bh = H0 = C0 = Out = Cells = Acts = HProj = [];
            Forward = default;
            Backward = default;
        }
    }

    /// <summary>The cores' entry points, one per register type.</summary>
    private static class SequenceTiles<TV, TS>
        where TV : struct
        where TS : ISimd<T, TV>
    {
        public static readonly Action<SequenceJob, int, int> Forward = (job, start, end) => RunShare<TV, TS>(job, start, end, backward: false);

        public static readonly Action<SequenceJob, int, int> Backward = (job, start, end) => RunShare<TV, TS>(job, start, end, backward: true);
    }

    public bool TryLstmSequenceForward(in LstmSequenceForward<T> a)
    {
        int steps = a.Steps, batch = a.Batch, hidden = a.Hidden;
        if (steps < 1 || batch < 1 || hidden < 1 || !SequencePrecisionFits(batch))
            return false;
        long n = (long)batch * hidden;
        var shape = GemmShape.Dense(batch, 4 * hidden, hidden, false, true);
        if (!SequenceFits(shape, a.WeightHh))
            return false;
        const string op = "lstm_sequence_forward";
        Require(a.XProj, steps * 4 * n, "xproj [T, B, 4H]", op);
        Require(a.WeightHh, 4L * hidden * hidden, "W_hh [4H, H]", op);
        Require(a.H0, n, "h0 [B, H]", op);
        Require(a.C0, n, "c0 [B, H]", op);
        Require(a.Output, steps * n, "output [T, B, H]", op);
        Require(a.Cells, (a.StoreCells ? steps : 2) * n, a.StoreCells ? "c [T, B, H]" : "c [2, B, H]", op);
        Require(a.HProj, 4 * n, "hproj [B, 4H]", op);
        if (a.Acts is { } acts)
            Require(acts, steps * 4 * n, "acts [T, B, 4H]", op);
        bool hasBias = a.BiasIh.HasValue && a.BiasHh.HasValue;
        if (hasBias)
        {
            Require(a.BiasIh!.Value, 4L * hidden, "b_ih [4H]", op);
            Require(a.BiasHh!.Value, 4L * hidden, "b_hh [4H]", op);
        }

        var job = RentSequenceJob();
        try
        {
            job.Forward = a;
            (job.X, job.XOff) = Read(a.XProj);
            (job.H0, job.H0Off) = Read(a.H0);
            (job.C0, job.C0Off) = Read(a.C0);
            (job.Out, job.OutOff) = Write(a.Output);
            (job.Cells, job.CellsOff) = Write(a.Cells);
            (job.HProj, job.HProjOff) = Write(a.HProj);
            (job.Acts, job.ActsOff) = a.Acts is { } store ? Write(store) : ([], 0);
            (job.Bi, job.BiOff) = hasBias ? Read(a.BiasIh!.Value) : (job.Zeros, 0);
            (job.Bh, job.BhOff) = hasBias ? Read(a.BiasHh!.Value) : (job.Zeros, 0);
            RunSequence(job, shape, a.WeightHh, backward: false);
        }
        finally
        {
            ReturnSequenceJob(job);
        }

        return true;
    }

    public bool TryLstmSequenceBackward(in LstmSequenceBackward<T> a)
    {
        int steps = a.Steps, batch = a.Batch, hidden = a.Hidden;
        if (steps < 1 || batch < 1 || hidden < 1 || !SequencePrecisionFits(batch))
            return false;
        long n = (long)batch * hidden;
        var shape = GemmShape.Dense(batch, hidden, 4 * hidden, false, false);
        if (!SequenceFits(shape, a.WeightHh))
            return false;
        const string op = "lstm_sequence_backward";
        Require(a.Dy, steps * n, "dy [T, B, H]", op);
        Require(a.WeightHh, 4L * hidden * hidden, "W_hh [4H, H]", op);
        Require(a.Acts, steps * 4 * n, "acts [T, B, 4H]", op);
        Require(a.Cells, steps * n, "c [T, B, H]", op);
        Require(a.C0, n, "c0 [B, H]", op);
        Require(a.DhRec, n, "dh [B, H]", op);
        Require(a.Dc, n, "dc [B, H]", op);
        Require(a.DGates, steps * 4 * n, "dgates [T, B, 4H]", op);

        var job = RentSequenceJob();
        try
        {
            job.Backward = a;
            (job.X, job.XOff) = Read(a.Dy);
            (job.Acts, job.ActsOff) = Read(a.Acts);
            (job.Cells, job.CellsOff) = Read(a.Cells);
            (job.C0, job.C0Off) = Read(a.C0);
            (job.H0, job.H0Off) = Write(a.Dc);
            (job.HProj, job.HProjOff) = Write(a.DhRec);
            (job.Out, job.OutOff) = Write(a.DGates);
            RunSequence(job, shape, a.WeightHh, backward: true);
        }
        finally
        {
            ReturnSequenceJob(job);
        }

        return true;
    }

    /// <summary>The cached job (or a new one while another thread's loop holds it).</summary>
    private SequenceJob RentSequenceJob() => Interlocked.Exchange(ref _cachedSequence, null) ?? new SequenceJob();

    /// <summary>Drops the job's references to the operands and caches it again, its scratch kept.</summary>
    private void ReturnSequenceJob(SequenceJob job)
    {
        job.Clear();
        Volatile.Write(ref _cachedSequence, job);
    }

    /// <summary>Whether the per-step product takes the few-row path over a cached packed W_hh (the loop's only form).</summary>
    private static bool SequenceFits(GemmShape s, BufferSlice<T> whh) =>
        whh.Buffer is CpuBuffer<T> && TakesFewRowPath(s, s.M);

    private static (T[] Array, int Offset) Read(BufferSlice<T> s) => CpuBuffer<T>.ReadOnlyArrayAt(s);

    /// <summary>A written operand: its version advances once here, not at every step.</summary>
    private static (T[] Array, int Offset) Write(BufferSlice<T> s) => CpuBuffer<T>.ArrayAt(s);

    private void RunSequence(SequenceJob job, GemmShape s, BufferSlice<T> whh, bool backward)
    {
        if (Vector512.IsHardwareAccelerated)
            RunSequence<Vector512<T>, Simd512<T>>(job, s, whh, backward);
        else if (Vector256.IsHardwareAccelerated)
            RunSequence<Vector256<T>, Simd256<T>>(job, s, whh, backward);
        else
            RunSequence<Vector128<T>, Simd128<T>>(job, s, whh, backward);
    }

    private void RunSequence<TV, TS>(SequenceJob job, GemmShape s, BufferSlice<T> whh, bool backward)
        where TV : struct
        where TS : ISimd<T, TV>
    {
        int nr = 2 * TS.Count;
        int width = FewRowWidth(s.M);
        int hidden = backward ? s.N : s.K;
        // One or two rows forward: gate panels, a block of nr units at a time. Shares of whole
        // grains of units (whole wide panels backward when the panels are wide); one core when a
        // step's product is too small to split.
        bool gates = !backward && width != nr;
        int grain = gates ? Math.Max(UnitGrain, nr) : Math.Max(UnitGrain, width);
        int grains = (hidden + grain - 1) / grain;
        bool byRows = !gates && s.M >= RowShareMin * CpuParallel.Cores;
        int shares = CpuParallel.Chunks(byRows ? s.M / RowShareMin : grains, (long)s.M * s.N * s.K);
        job.Shape = s;
        job.Shares = shares;
        job.Grain = grain;
        job.ByRows = byRows;
        job.Width = width;
        job.NPad = RoundUp(s.N, width);
        job.Bf16 = Bf16Panels(s.M);
        if (job.Bf16)
        {
            // op(A) of every step rounded once by the cores that wrote it; h0 here.
            job.RoundedLength = s.M * s.Lda;
            Grow(ref job.RoundedA, 2 * job.RoundedLength);
            if (!backward)
                RoundBf16(ref job.H0[job.H0Off], ref job.RoundedA[job.RoundedLength], s.M * s.K);
        }

        var pack = job.Bf16 ? (gates ? PackGatePanelsBf16 : PackWholeBBf16) : gates ? PackGatePanels : PackWholeB;
        int layout = job.Bf16 ? (gates ? GatePanelsBf16Layout : WholeBBf16Layout) : gates ? GatePanelsLayout : 0;
        long length = job.Bf16 ? Bf16PackedLength(s, width) : PackedOperandCache<T>.PackedLength(s.K, s.N, width);
        var entry = _packed.Rent(s, whh, width, pack, layout, length);
        try
        {
            if (entry is null)
            {
                // First sight of this W_hh: packed once for the whole loop.
                Grow(ref job.PackedB, (int)length);
                pack(s, whh, width, job.PackedB.AsSpan(0, (int)length));
                (job.Panels, job.PanelsStart) = (job.PackedB, 0);
            }
            else
            {
                (job.Panels, job.PanelsStart) = (entry.Panels, entry.Start);
            }

            job.Barrier.Reset(shares);
            CpuParallel.For(shares, shares, job, backward ? SequenceTiles<TV, TS>.Backward : SequenceTiles<TV, TS>.Forward);
        }
        finally
        {
            if (entry is not null)
                _packed.Return(entry);
        }
    }

    /// <summary>
    /// One core's part of the loop: shares [start, end) of the hidden units (all of them when
    /// the workers were busy and the loop runs on the calling thread alone).
    /// </summary>
    private static void RunShare<TV, TS>(SequenceJob job, int start, int end, bool backward)
        where TV : struct
        where TS : ISimd<T, TV>
    {
        bool alone = end - start == job.Shares;
        int hidden = backward ? job.Shape.N : job.Shape.K;
        int grains = (hidden + job.Grain - 1) / job.Grain;
        int rows = job.Shape.M;
        var share = job.ByRows
            ? new Share(rows * start / job.Shares, rows * end / job.Shares, 0, hidden)
            : new Share(0, rows, Math.Min(hidden, grains * start / job.Shares * job.Grain), Math.Min(hidden, grains * end / job.Shares * job.Grain));
        var barrier = alone || job.ByRows ? null : job.Barrier;
        try
        {
            if (backward)
                BackwardShare<TV, TS>(job, share, barrier, start);
            else if (job.Forward.Acts is null)
                ForwardShare<TV, TS, Inference>(job, share, barrier, start);
            else
                ForwardShare<TV, TS, Training>(job, share, barrier, start);
        }
        catch
        {
            // Release the cores waiting for this one.
            barrier?.Break();
            throw;
        }
    }

    /// <summary>A core's part of the loop: rows [R0, R1) and hidden units [U0, U1).</summary>
    private readonly record struct Share(int R0, int R1, int U0, int U1);

    /// <summary>
    /// Rows a core's share holds at least when the cores split the rows (<see cref="SequenceJob.ByRows"/>).
    /// Each core then streams all of W_hh every step (from L3 once it outgrows L2) for 2·rows flops
    /// a weight: at 16 rows a share the product stays bound by the FMAs and the cores never wait for
    /// each other; at 8 rows (batch 16, H 1024) splitting the units was faster.
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
                // not a line at a time as the product's broadcasts reach them (11 % of the loop at
                // batch 1, T 500, H 256).
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

    /// <summary>The cache's layout code of <see cref="PackGatePanels"/>.</summary>
    private const int GatePanelsLayout = 1;

    /// <summary>
    /// W_hh [4H, H] as gate panels for hproj = h W_hhᵀ (op(B) = W_hhᵀ [H, 4H]): K block after K block (block pc at
    /// pc · 4·H', H' = H rounded up to nr), and in each the blocks of nr units one after the other,
    /// each kc × 4·nr: for every k, the nr columns of gate i, then f, g and o of its units (zeros
    /// past H). The product of one block is one stream over its panel, and yields all four gates
    /// of its units; each element's sum is the same as over the plain panels.
    /// </summary>
    private static readonly PackedOperandCache<T>.Packer PackGatePanels = (s, b, width, panels) =>
    {
        System.Diagnostics.Debug.Assert(s.TransB != 0, "the forward product's op(B) is W_hhᵀ");
        var src = CpuBuffer<T>.ReadOnly(b);
        ref T from = ref MemoryMarshal.GetReference(src);
        int nr = width / 4;
        int hidden = s.N / 4;
        int blocks = (hidden + nr - 1) / nr;
        int nPad = blocks * 4 * nr;
        for (int pc = 0; pc < s.K; pc += CpuGemm.KC)
        {
            int kc = Math.Min(CpuGemm.KC, s.K - pc);
            for (int ub = 0; ub < blocks; ub++)
            {
                var block = panels.Slice(pc * nPad + ub * 4 * nr * kc, 4 * nr * kc);
                int valid = Math.Min(nr, hidden - ub * nr);
                if (valid < nr)
                    block.Clear();
                for (int q = 0; q < 4; q++)
                {
                    int col0 = q * hidden + ub * nr;
                    ref T to = ref Unsafe.Add(ref MemoryMarshal.GetReference(block), q * nr);
                    // Column col0 + j of op(B) is row col0 + j of W_hh [4H, H], contiguous in k.
                    for (int j = 0; j < valid; j++)
                    {
                        ref T row = ref Unsafe.Add(ref from, (nint)(col0 + j) * s.Ldb + pc);
                        for (int k = 0; k < kc; k++)
                            Unsafe.Add(ref to, k * 4 * nr + j) = Unsafe.Add(ref row, k);
                    }
                }
            }
        }
    };

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

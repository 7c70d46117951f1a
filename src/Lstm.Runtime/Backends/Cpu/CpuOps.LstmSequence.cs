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
/// batch 1 is as much as the arithmetic. Shares are whole multiples of <see cref="UnitGrain"/>
/// units, so a core's gate columns begin on a panel boundary and the cell's 16-lane groups fall
/// where they fall in a whole row.
/// <para>
/// With one or two rows the forward product streams W_hh from L2 and the cell waits on long
/// chains of dependent arithmetic: there W_hh is packed as gate panels (<see cref="PackGatePanels"/>),
/// so one pass over a block's panel yields the four gates of its units and the block's cell runs
/// at once, overlapping the next block's loads (the fused epilogue); the backward product runs
/// over wide panels.
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
        if (steps < 1 || batch < 1 || hidden < 1 || a.Proj > 0 || a.Active is not null || !SequencePrecisionFits(batch))
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
        if (steps < 1 || batch < 1 || hidden < 1 || a.Proj > 0 || a.Active is not null || !SequencePrecisionFits(batch))
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

    /// <summary>
    /// Whether the per-step product takes the few-row path over a cached packed W_hh (the loop's
    /// only form); no projection, every row as long as the sequence (the step loop runs the others).
    /// </summary>
    /// <inheritdoc/>
    public bool CanRunLstmSequence(int steps, int batch, int hidden, int proj, bool ragged, bool backward) =>
        steps >= 1 && batch >= 1 && hidden >= 1 && proj == 0 && !ragged && SequencePrecisionFits(batch)
        && TakesFewRowPath(backward ? GemmShape.Dense(batch, hidden, 4 * hidden, false, false) : GemmShape.Dense(batch, 4 * hidden, hidden, false, true), batch);

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
}

using ILGPU;
using ILGPU.Runtime;

namespace Lstm.Kernels.Cells;

/// <summary>
/// One LSTM direction's whole backward time loop in one launch (the forward's steps walked back
/// from the last to the first): the groups stay resident for all T steps and meet at one grid
/// barrier a step.
/// </summary>
/// <remarks>
/// Group g owns hidden units [g·U, min(H, (g+1)·U)). It copies the U columns of W_hh [4H, H]
/// of its units into (dynamic) shared memory once, as [4H, U]. Per step, each thread takes items
/// (b, u) of the group's B·U: (1) the cell backward of <see cref="LstmCellKernels.BackwardElement{T, TOps}"/>
/// from dy_t + dh_rec, the stored activations, c_t and c_{t-1}, writing the four gate gradients
/// of unit u to dgates_t [B, 4H] in global memory and dc in place; (2) the grid barrier, after which
/// every group's gate gradients of the step are visible; (3) dh_{t-1}[b, u] = Σ_r dgates_t[b, r]·W_hh[r, u]
/// over r in order from zero with one multiply-add per r, as every GEMM kernel sums an output,
/// into dh_rec in place. A group reads and writes only its own units of dh_rec and dc, and each
/// step's gate gradients have their own slice of dgates, so the next step's (1) needs no second
/// grid barrier: one barrier a step. So every value is rounded as on the step-by-step path (the
/// fused cell backward, then the recurrent GEMM dgates_t · W_hh).
/// <para>
/// Shared memory: 4H·U + 1 elements of T (the weight columns, the group's barrier verdict). The
/// grid barrier, its sync buffer and its bounded spin are the forward's
/// (<see cref="PersistentLstmKernels"/>): a grid whose groups are not all resident ends with the
/// failure flag set instead of hanging, its outputs partial.
/// </para>
/// </remarks>
internal static class PersistentLstmBackwardKernels
{
    /// <summary>Elements of T of dynamic shared memory one group needs.</summary>
    /// <param name="hidden">H.</param>
    /// <param name="units">U.</param>
    public static int SharedElements(int hidden, int units) => 4 * hidden * units + 1;

    /// <summary>
    /// The backward loop. Launch ⌈H/U⌉ groups with <see cref="SharedElements"/> elements of
    /// dynamic shared memory, all of them co-resident, and a zeroed sync buffer.
    /// </summary>
    /// <param name="dy">[T, B, H] the gradient of each step's output from above.</param>
    /// <param name="whh">W_hh: [4H, H].</param>
    /// <param name="acts">[T, B, 4H] the forward's activations i, f, g, o.</param>
    /// <param name="cells">[T, B, H] the forward's c_t.</param>
    /// <param name="c0">[B, H] the c before the forward's first step.</param>
    /// <param name="dhRec">[B, H] in: the gradient of h at the forward's last step; out: that of h0.</param>
    /// <param name="dc">[B, H] in: the gradient of c_n; out: that of c0.</param>
    /// <param name="dgates">[T, B, 4H] out: the gate gradients of every step.</param>
    /// <param name="sync">The grid barrier's state, <see cref="PersistentLstmKernels.SyncLength"/> ints, zero at launch.</param>
    /// <param name="s">Sizes and switches (Steps, Batch, Hidden, Units, Reverse, SpinLimit, SkipGroup; the others unread).</param>
    public static void Backward<T, TOps>(
        ArrayView<T> dy, ArrayView<T> whh, ArrayView<T> acts, ArrayView<T> cells, ArrayView<T> c0,
        ArrayView<T> dhRec, ArrayView<T> dc, ArrayView<T> dgates, ArrayView<int> sync, PersistentLstmShape s)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        if (Grid.IdxX == s.SkipGroup)
            return;
        var shared = SharedMemory.GetDynamic<T>();
        int hidden = s.Hidden, batch = s.Batch, units = s.Units;
        int gates = 4 * hidden;
        int unit0 = Grid.IdxX * units;
        int owned = hidden - unit0 < units ? hidden - unit0 : units;
        int tid = Group.IdxX, threads = Group.DimX;
        int weights = gates * units;
        int verdict = weights;

        for (int e = tid; e < weights; e += threads)
        {
            int r = e / units;
            int u = e - r * units;
            shared[e] = u < owned ? whh[(long)r * hidden + unit0 + u] : ops.Zero;
        }

        Group.Barrier();
        long stepSize = (long)batch * hidden;
        int items = batch * owned;
        for (int step = 0; step < s.Steps; step++)
        {
            // The forward's step number walked back: fs = T-1 … 0, at time t.
            int fs = s.Steps - 1 - step;
            int t = s.Reverse != 0 ? s.Steps - 1 - fs : fs;
            int tPrev = s.Reverse != 0 ? t + 1 : t - 1;
            var cPrev = fs == 0 ? c0 : cells.SubView(tPrev * stepSize, stepSize);
            var c = cells.SubView(t * stepSize, stepSize);
            var y = dy.SubView(t * stepSize, stepSize);
            var a = acts.SubView(t * stepSize * 4, stepSize * 4);
            var dg = dgates.SubView(t * stepSize * 4, stepSize * 4);
            for (int e = tid; e < items; e += threads)
            {
                int b = e / owned;
                int j = unit0 + e - b * owned;
                LstmCellKernels.BackwardElement<T, TOps>(b * hidden + j, y, dhRec, dc, a, c, cPrev, dg, hidden);
            }

            Group.Barrier();
            if (tid == 0)
                shared[verdict] = PersistentLstmKernels.GridBarrier(sync, Grid.DimX, step + 1, s.SpinLimit) ? ops.One : ops.Zero;
            Group.Barrier();
            if (!ops.Greater(shared[verdict], ops.Zero))
                return;

            for (int e = tid; e < items; e += threads)
            {
                int b = e / owned;
                int u = e - b * owned;
                long row = (long)b * gates;
                T acc = ops.Zero;
                for (int r = 0; r < gates; r++)
                    acc = ops.MulAdd(dg[row + r], shared[r * units + u], acc);
                dhRec[b * hidden + unit0 + u] = acc;
            }

            Group.Barrier();
        }
    }
}

using ILGPU;
using ILGPU.Runtime;

namespace Lstm.Kernels.Cells;

/// <summary>
/// One GRU direction's whole backward time loop in one launch (the forward's steps walked back from
/// the last to the first), as <see cref="PersistentLstmBackwardKernels"/> runs an LSTM's: the groups
/// stay resident for all T steps and meet at one grid barrier a step.
/// </summary>
/// <remarks>
/// Group g owns hidden units [g·U, min(H, (g+1)·U)). It copies the U columns of W_hh [3H, H] of its
/// units into (dynamic) shared memory once, as [3H, U]. Per step, over the active rows b &lt; n_t
/// only (as the forward, <see cref="PersistentGruKernels"/>): (1) for each (b, u), the cell backward
/// of <see cref="GruCellKernels.BackwardElement{T, TOps}"/> from dy_t + dh_rec, the stored r, z, n, hn
/// and h_{t-1} (h0 for a row that began at t), writing the three gate gradients of unit u to
/// dgatesX_t and dgatesH_t [B, 3H] in global memory and the direct part dh ⊙ z of dh_{t-1} into
/// dh_rec in place; (2) the grid barrier, after which every group's gate gradients of the step are
/// visible; (3) dh_{t-1}[b, u] = dh_rec[b, u] + Σ_r dgatesH_t[b, r]·W_hh[r, u] over the 3H gate rows
/// in order from zero with one multiply-add per r, added to the direct part as a GEMM with β = 1
/// adds its product to C. So every value is rounded as on the step-by-step path (the fused cell
/// backward, then the recurrent GEMM dgatesH_t · W_hh accumulated onto dh ⊙ z). A group reads and
/// writes only its own units of dh_rec and each step has its own slices of the gate gradients: one
/// grid barrier a step. Rows past their length are not touched: their dh_rec waits, unchanged, for
/// the row's own last step, and at the end dh_rec holds dh0 of every row of length ≥ 1. The loops
/// keep uniform bounds over every row and stop at the first inactive one. Shared memory: 3H·U + 1
/// elements of T. The grid barrier is <see cref="PersistentLstmKernels.GridBarrier"/>: a grid whose
/// groups are not all resident ends with the failure flag set instead of hanging, its outputs partial.
/// </remarks>
internal static class PersistentGruBackwardKernels
{
    /// <summary>Elements of T of dynamic shared memory one group needs.</summary>
    /// <param name="hidden">H.</param>
    /// <param name="units">U.</param>
    public static int SharedElements(int hidden, int units) => 3 * hidden * units + 1;

    /// <summary>
    /// The backward loop. Launch ⌈H/U⌉ groups with <see cref="SharedElements"/> elements of
    /// dynamic shared memory, all of them co-resident, and a zeroed sync buffer.
    /// </summary>
    /// <param name="dy">[T, B, H] the gradient of each step's output from above.</param>
    /// <param name="whh">W_hh: [3H, H].</param>
    /// <param name="acts">[T, B, 4H] the forward's r, z, n, hn.</param>
    /// <param name="output">[T, B, H] the forward's h_t.</param>
    /// <param name="h0">[B, H] the h before the forward's first step.</param>
    /// <param name="dhRec">[B, H] in: the gradient of h_n; out: that of h0 (rows of length ≥ 1).</param>
    /// <param name="dgatesX">[T, B, 3H] out: the gradients of xproj (and b_ih) of every step's active rows.</param>
    /// <param name="dgatesH">[T, B, 3H] out: the gradients of hproj (and b_hh) of every step's active rows.</param>
    /// <param name="active">[T] n_t: the rows active at step t (a prefix of the rows, sorted by length).</param>
    /// <param name="sync">The grid barrier's state, <see cref="PersistentLstmKernels.SyncLength"/> ints, zero at launch.</param>
    /// <param name="s">Sizes and switches (Steps, Batch, Hidden, Units, Reverse, SpinLimit, SkipGroup; the others unread).</param>
    public static void Backward<T, TOps>(
        ArrayView<T> dy, ArrayView<T> whh, ArrayView<T> acts, ArrayView<T> output, ArrayView<T> h0,
        ArrayView<T> dhRec, ArrayView<T> dgatesX, ArrayView<T> dgatesH, ArrayView<int> active, ArrayView<int> sync, PersistentCellShape s)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        if (Grid.IdxX == s.SkipGroup)
            return;
        var shared = SharedMemory.GetDynamic<T>();
        int hidden = s.Hidden, batch = s.Batch, units = s.Units;
        int gates = 3 * hidden;
        int unit0 = Grid.IdxX * units;
        int owned = hidden - unit0 < units ? hidden - unit0 : units;
        int tid = Group.IdxX, threads = Group.DimX;
        int verdict = gates * units;

        LoadGateColumns<T, TOps>(shared, whh, hidden, unit0, units, owned, gates);

        Group.Barrier();
        long stepSize = (long)batch * hidden;
        for (int step = 0; step < s.Steps; step++)
        {
            // The forward's step number walked back: fs = T-1 … 0, at time t.
            int fs = s.Steps - 1 - step;
            int t = s.Reverse != 0 ? s.Steps - 1 - fs : fs;
            int tPrev = s.Reverse != 0 ? t + 1 : t - 1;
            int n = active[t];
            // As in the forward: rows [0, carried) came from step tPrev, the rest of the n began at t.
            int carried = fs == 0 ? 0 : s.Reverse != 0 ? active[tPrev] : n;
            // Only ints live across the loops; the step's views are made where they are read.
            int live = n * owned;
            for (int e = tid; e < batch * owned; e += threads)
            {
                if (e >= live)
                    break;
                int b = e / owned;
                int idx = b * hidden + unit0 + e - b * owned;
                var hPrev = b < carried ? output.SubView(tPrev * stepSize, stepSize) : h0;
                GruCellKernels.BackwardElement<T, TOps>(
                    idx, dy.SubView(t * stepSize, stepSize), dhRec, acts.SubView(t * stepSize * 4, stepSize * 4), hPrev,
                    dgatesX.SubView(t * stepSize * 3, stepSize * 3), dgatesH.SubView(t * stepSize * 3, stepSize * 3), dhRec, hidden);
            }

            if (!PersistentLstmKernels.Meet<T, TOps>(shared, verdict, sync, step + 1, s.SpinLimit))
                return;

            for (int e = tid; e < batch * owned; e += threads)
            {
                if (e >= live)
                    break;
                int b = e / owned;
                int u = e - b * owned;
                long index = (long)b * hidden + unit0 + u;
                T acc = RecurrentSum<T, TOps>(shared, dgatesH, (t * (long)batch + b) * gates, gates, units, u);
                // The GEMM's store with α = β = 1: β·C + α·acc.
                dhRec[index] = default(TOps).MulAdd(default(TOps).One, dhRec[index], acc);
            }

            Group.Barrier();
        }
    }

    /// <summary>
    /// Loads the U columns of W_hh [G·H, H] of a group's units into shared memory as [G·H, U]: element
    /// r·U + u holds W_hh[r, unit0 + u], zero for the units past H. The caller waits for the group
    /// before reading it. The GRU and RNN backward loops read their columns from it.
    /// </summary>
    internal static void LoadGateColumns<T, TOps>(ArrayView<T> shared, ArrayView<T> whh, int hidden, int unit0, int units, int owned, int rows)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        int weights = rows * units;
        for (int e = Group.IdxX; e < weights; e += Group.DimX)
        {
            int r = e / units;
            int u = e - r * units;
            shared[e] = u < owned ? whh[(long)r * hidden + unit0 + u] : default(TOps).Zero;
        }
    }

    /// <summary>
    /// Σ_r dgates[row + r]·W_hh[r, unit0 + u] over r in order from zero, one multiply-add per r, as
    /// every GEMM kernel sums an output; W_hh's column from <see cref="LoadGateColumns"/>.
    /// </summary>
    internal static T RecurrentSum<T, TOps>(ArrayView<T> shared, ArrayView<T> dgates, long row, int rows, int units, int u)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        T acc = ops.Zero;
        for (int r = 0; r < rows; r++)
            acc = ops.MulAdd(dgates[row + r], shared[r * units + u], acc);
        return acc;
    }
}

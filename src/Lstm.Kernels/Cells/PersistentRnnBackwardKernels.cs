using ILGPU;
using ILGPU.Runtime;

namespace Lstm.Kernels.Cells;

/// <summary>
/// One Elman RNN direction's (tanh, relu) whole backward time loop in one launch (the forward's
/// steps walked back from the last to the first), as <see cref="PersistentLstmBackwardKernels"/>
/// runs an LSTM's: the groups stay resident for all T steps and meet at one grid barrier a step.
/// </summary>
/// <remarks>
/// Group g owns hidden units [g·U, min(H, (g+1)·U)) and copies the U columns of W_hh [H, H] of its
/// units into (dynamic) shared memory once, as [H, U]
/// (<see cref="PersistentGruBackwardKernels.LoadGateColumns{T, TOps}"/>). Per step, over the active
/// rows b &lt; n_t only (as the forward, <see cref="PersistentRnnKernels"/>), each thread takes items
/// (b, u): (1) dgates_t[b, j] = (dy_t + dh_rec) ⊙ act'(h_t) of <see cref="RnnCellKernels.Gradient{T, TOps}"/>
/// into [B, H] in global memory; (2) the grid barrier; (3) dh_{t-1}[b, u] = Σ_r dgates_t[b, r]·W_hh[r, u]
/// over r in order from zero with one multiply-add per r, as every GEMM kernel sums an output, into
/// dh_rec in place. So every value is rounded as on the step-by-step path (the cell backward, then
/// the recurrent GEMM dgates_t · W_hh). One grid barrier a step, as the LSTM's. Rows past their
/// length are not touched: their dh_rec waits, unchanged, for the row's own last step, and at the
/// end dh_rec holds dh0 of every row of length ≥ 1. Shared memory: H·U + 1 elements of T.
/// </remarks>
internal static class PersistentRnnBackwardKernels
{
    /// <summary>Elements of T of dynamic shared memory one group needs.</summary>
    /// <param name="hidden">H.</param>
    /// <param name="units">U.</param>
    public static int SharedElements(int hidden, int units) => hidden * units + 1;

    /// <summary>
    /// The backward loop. Launch ⌈H/U⌉ groups with <see cref="SharedElements"/> elements of
    /// dynamic shared memory, all of them co-resident, and a zeroed sync buffer.
    /// </summary>
    /// <param name="dy">[T, B, H] the gradient of each step's output from above.</param>
    /// <param name="whh">W_hh: [H, H].</param>
    /// <param name="output">[T, B, H] the forward's h_t.</param>
    /// <param name="dhRec">[B, H] in: the gradient of h_n; out: that of h0 (rows of length ≥ 1).</param>
    /// <param name="dgates">[T, B, H] out: the gradients of the pre-activation (of xproj, hproj and both biases) of every step's active rows.</param>
    /// <param name="active">[T] n_t: the rows active at step t (a prefix of the rows, sorted by length).</param>
    /// <param name="sync">The grid barrier's state, <see cref="PersistentLstmKernels.SyncLength"/> ints, zero at launch.</param>
    /// <param name="s">Sizes and switches (Steps, Batch, Hidden, Units, Reverse, Relu, SpinLimit, SkipGroup; the others unread).</param>
    public static void Backward<T, TOps>(
        ArrayView<T> dy, ArrayView<T> whh, ArrayView<T> output, ArrayView<T> dhRec, ArrayView<T> dgates,
        ArrayView<int> active, ArrayView<int> sync, PersistentCellShape s)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        if (Grid.IdxX == s.SkipGroup)
            return;
        var shared = SharedMemory.GetDynamic<T>();
        int hidden = s.Hidden, batch = s.Batch, units = s.Units;
        int unit0 = Grid.IdxX * units;
        int owned = hidden - unit0 < units ? hidden - unit0 : units;
        int tid = Group.IdxX, threads = Group.DimX;
        int verdict = hidden * units;

        PersistentGruBackwardKernels.LoadGateColumns<T, TOps>(shared, whh, hidden, unit0, units, owned, hidden);

        Group.Barrier();
        long stepSize = (long)batch * hidden;
        for (int step = 0; step < s.Steps; step++)
        {
            // The forward's step number walked back: fs = T-1 … 0, at time t.
            int fs = s.Steps - 1 - step;
            int t = s.Reverse != 0 ? s.Steps - 1 - fs : fs;
            // Only ints live across the loops; the loops walk every row and stop at the first inactive one.
            int live = active[t] * owned;
            for (int e = tid; e < batch * owned; e += threads)
            {
                if (e >= live)
                    break;
                int b = e / owned;
                long index = t * stepSize + (long)b * hidden + unit0 + e - b * owned;
                dgates[index] = RnnCellKernels.Gradient<T, TOps>(dy[index], dhRec[index - t * stepSize], output[index], s.Relu);
            }

            if (!PersistentLstmKernels.Meet<T, TOps>(shared, verdict, sync, step + 1, s.SpinLimit))
                return;

            for (int e = tid; e < batch * owned; e += threads)
            {
                if (e >= live)
                    break;
                int b = e / owned;
                int u = e - b * owned;
                dhRec[(long)b * hidden + unit0 + u] = PersistentGruBackwardKernels.RecurrentSum<T, TOps>(
                    shared, dgates, (t * (long)batch + b) * hidden, hidden, units, u);
            }

            Group.Barrier();
        }
    }
}

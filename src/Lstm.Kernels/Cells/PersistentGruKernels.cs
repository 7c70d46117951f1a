using ILGPU;
using ILGPU.Runtime;

namespace Lstm.Kernels.Cells;

/// <summary>
/// One GRU direction's whole forward time loop in one launch, as <see cref="PersistentLstmKernels"/>
/// runs an LSTM's: the groups stay resident for all T steps and meet at its grid barrier between steps.
/// </summary>
/// <remarks>
/// Group g owns hidden units [g·U, min(H, (g+1)·U)). It copies its 3·U rows of W_hh into (dynamic)
/// shared memory once, as [H, 3U] with row r = 3u + q (unit u, gate q in PyTorch's order r, z, n).
/// Per step, the items (b, r) of the active rows' recurrent projections are walked in chunks of one
/// per thread (a multiple of 3 threads): each thread sums h_{t-1}[b, k]·W_hh[q·H + j, k] over k in
/// order from zero with one multiply-add per k, as every GEMM kernel sums an output, into a shared
/// slot; after a group barrier one thread per (b, u) of the chunk runs the cell of <see cref="GruCellKernels"/>
/// (n = tanh(x_n + b_in + r ⊙ (hproj_n + b_hn))), writing r, z, n, hn when training. So every value
/// is rounded as on the step-by-step path. Variable lengths as the LSTM's loop takes them (rows sorted
/// by length, longest first): step t runs its first n_t = <c>active</c>[t] rows only, a row past its
/// length writes nothing (its output stays zero), and rows [carried, n_t) begin at t from h0 (forward
/// every row begins at t = 0, in reverse a row begins at its own last step, carried = n_{t+1}). The
/// chunks walk every row, so that their bounds stay uniform; the inactive rows only meet the group
/// barriers. Shared memory: (3U·H + groupSize + 1) elements of T.
/// </remarks>
internal static class PersistentGruKernels
{
    /// <summary>Elements of T of dynamic shared memory one group needs.</summary>
    /// <param name="hidden">H.</param>
    /// <param name="units">U.</param>
    /// <param name="groupSize">Threads per group.</param>
    public static int SharedElements(int hidden, int units, int groupSize) => 3 * units * hidden + groupSize + 1;

    /// <summary>
    /// The forward loop. Launch ⌈H/U⌉ groups of a multiple of 3 threads with
    /// <see cref="SharedElements"/> elements of dynamic shared memory, all of them co-resident.
    /// </summary>
    /// <param name="xproj">[T, B, 3H] x_t W_ihᵀ of every step, without bias.</param>
    /// <param name="whh">W_hh: [3H, H].</param>
    /// <param name="biasIh">b_ih: [3H]; read only when HasBias is 1.</param>
    /// <param name="biasHh">b_hh: [3H]; read only when HasBias is 1.</param>
    /// <param name="h0">[B, H] the state before the first step walked.</param>
    /// <param name="output">[T, B, H] out: h_t of the active rows (the others untouched).</param>
    /// <param name="acts">[T, B, 4H] out when training: r, z, n, hn as <see cref="GruCellKernels.ForwardTraining{T, TOps}"/> lays them out.</param>
    /// <param name="active">[T] n_t: the rows active at step t (a prefix of the rows, sorted by length).</param>
    /// <param name="sync">The grid barrier's state, <see cref="PersistentLstmKernels.SyncLength"/> ints, zero at launch.</param>
    /// <param name="s">Sizes and switches.</param>
    public static void Forward<T, TOps>(
        ArrayView<T> xproj, ArrayView<T> whh, ArrayView<T> biasIh, ArrayView<T> biasHh, ArrayView<T> h0,
        ArrayView<T> output, ArrayView<T> acts, ArrayView<int> active, ArrayView<int> sync, PersistentCellShape s)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        if (Grid.IdxX == s.SkipGroup)
            return;
        var shared = SharedMemory.GetDynamic<T>();
        int hidden = s.Hidden, batch = s.Batch, units = s.Units;
        int rows = 3 * units;
        int unit0 = Grid.IdxX * units;
        int owned = hidden - unit0 < units ? hidden - unit0 : units;
        int tid = Group.IdxX, threads = Group.DimX;
        int weights = rows * hidden;
        int verdict = weights + threads;

        PersistentLstmKernels.LoadGateRows<T, TOps>(shared, whh, hidden, unit0, units, owned, 3);

        Group.Barrier();
        long stepSize = (long)batch * hidden;
        int items = batch * rows;
        for (int step = 0; step < s.Steps; step++)
        {
            // Only ints live across the chunks; the step's views are made where they are read.
            int t = s.Reverse != 0 ? s.Steps - 1 - step : step;
            int tPrev = s.Reverse != 0 ? t + 1 : t - 1;
            int n = active[t];
            // Rows [0, carried) continue from step tPrev; the rest of the n begin here from h0.
            int carried = step == 0 ? 0 : s.Reverse != 0 ? active[tPrev] : n;
            int live = n * rows;
            for (int chunk = 0; chunk < items; chunk += threads)
            {
                int e = chunk + tid;
                if (e < live)
                {
                    int b = e / rows;
                    int r = e - b * rows;
                    T acc = default(TOps).Zero;
                    if (r / 3 < owned)
                    {
                        bool carry = b < carried;
                        var hp = carry ? output : h0;
                        long hRow = (carry ? tPrev * stepSize : 0) + (long)b * hidden;
                        for (int k = 0; k < hidden; k++)
                            acc = default(TOps).MulAdd(hp[hRow + k], shared[k * rows + r], acc);
                    }

                    shared[weights + tid] = acc;
                }

                Group.Barrier();
                int e3 = chunk + 3 * tid;
                if (3 * tid < threads && e3 < live)
                {
                    int b = e3 / rows;
                    int u = (e3 - b * rows) / 3;
                    if (u < owned)
                        Cell<T, TOps>(shared, weights + 3 * tid, b, unit0 + u, t, b < carried, xproj, biasIh, biasHh, h0, output, acts, s);
                }

                Group.Barrier();
            }

            if (step + 1 < s.Steps && !PersistentLstmKernels.Meet<T, TOps>(shared, verdict, sync, step + 1, s.SpinLimit))
                return;
        }
    }

    /// <summary>
    /// The cell of (b, j) at time <paramref name="t"/> from its three recurrent projections in the
    /// chunk's shared slots: h_{t-1} from the previous step's output (<paramref name="carry"/>) or h0.
    /// </summary>
    private static void Cell<T, TOps>(
        ArrayView<T> shared, int slot, int b, int j, int t, bool carry, ArrayView<T> xproj, ArrayView<T> biasIh, ArrayView<T> biasHh,
        ArrayView<T> h0, ArrayView<T> output, ArrayView<T> acts, PersistentCellShape s)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        int hidden = s.Hidden;
        long stepSize = (long)s.Batch * hidden;
        int tPrev = s.Reverse != 0 ? t + 1 : t - 1;
        var hPrev = carry ? output.SubView(tPrev * stepSize, stepSize) : h0;
        var a = s.Training != 0 ? acts.SubView(t * stepSize * 4, stepSize * 4) : acts;
        GruCellKernels.Cell<T, TOps>(b * hidden + j, b, j, hidden, xproj.SubView(t * stepSize * 3, stepSize * 3), shared[slot], shared[slot + 1],
            shared[slot + 2], biasIh, biasHh, hPrev, output.SubView(t * stepSize, stepSize), a, s.HasBias, s.Training != 0);
    }
}

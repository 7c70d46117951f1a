using ILGPU;
using ILGPU.Runtime;

namespace Lstm.Kernels.Cells;

/// <summary>
/// The sizes and switches of one persistent GRU or RNN forward launch
/// (<see cref="PersistentGruKernels.Forward{T, TOps}"/>, <see cref="PersistentRnnKernels.Forward{T, TOps}"/>).
/// </summary>
/// <param name="Steps">T ≥ 1.</param>
/// <param name="Batch">B ≥ 1.</param>
/// <param name="Hidden">H ≥ 1.</param>
/// <param name="Units">U: hidden units per group; the grid has ⌈H/U⌉ groups.</param>
/// <param name="Reverse">1: steps T-1 … 0, h_{t+1} feeding step t; 0: time order.</param>
/// <param name="Training">1: write the activations the step kernels' training forward writes (GRU: r, z, n, hn).</param>
/// <param name="HasBias">1 to add b_ih and b_hh.</param>
/// <param name="Relu">RNN only: 1 for ReLU, 0 for tanh.</param>
/// <param name="SpinLimit">Most polls of the grid barrier before a group gives up and flags the failure.</param>
/// <param name="SkipGroup">A group that leaves at once (a lost group, to test the barrier's time-out); -1 for none.</param>
public readonly record struct PersistentCellShape(
    int Steps, int Batch, int Hidden, int Units, int Reverse, int Training, int HasBias, int Relu, int SpinLimit, int SkipGroup);

/// <summary>
/// One Elman RNN direction's whole forward time loop in one launch, as <see cref="PersistentLstmKernels"/>
/// runs an LSTM's: the groups stay resident for all T steps and meet at its grid barrier between steps.
/// </summary>
/// <remarks>
/// Group g owns hidden units [g·U, min(H, (g+1)·U)) and copies their U rows of W_hh into (dynamic)
/// shared memory once, as [H, U]. Per step each thread takes items (b, u) of the active rows with a
/// stride: it sums h_{t-1}[b, k]·W_hh[j, k] over k in order from zero with one multiply-add per k,
/// as every GEMM kernel sums an output, then runs the cell of <see cref="RnnCellKernels"/> on it, so
/// every value is rounded as on the step-by-step path. Variable lengths as the LSTM's and GRU's loops
/// take them: step t runs its first n_t = <c>active</c>[t] rows (sorted by length) only, rows
/// [carried, n_t) beginning at t from h0; the loop's bound stays uniform over every row and stops at
/// the first inactive one. The backward pass reads act' from h_t, so nothing else is stored. Shared
/// memory: U·H + 1 elements of T (the weights, the group's barrier verdict).
/// </remarks>
internal static class PersistentRnnKernels
{
    /// <summary>Elements of T of dynamic shared memory one group needs.</summary>
    /// <param name="hidden">H.</param>
    /// <param name="units">U.</param>
    public static int SharedElements(int hidden, int units) => units * hidden + 1;

    /// <summary>
    /// The forward loop. Launch ⌈H/U⌉ groups with <see cref="SharedElements"/> elements of dynamic
    /// shared memory, all of them co-resident.
    /// </summary>
    /// <param name="xproj">[T, B, H] x_t W_ihᵀ of every step, without bias.</param>
    /// <param name="whh">W_hh: [H, H].</param>
    /// <param name="biasIh">b_ih: [H]; read only when HasBias is 1.</param>
    /// <param name="biasHh">b_hh: [H]; read only when HasBias is 1.</param>
    /// <param name="h0">[B, H] the state before the first step walked.</param>
    /// <param name="output">[T, B, H] out: h_t of the active rows (the others untouched).</param>
    /// <param name="active">[T] n_t: the rows active at step t (a prefix of the rows, sorted by length).</param>
    /// <param name="sync">The grid barrier's state, <see cref="PersistentLstmKernels.SyncLength"/> ints, zero at launch.</param>
    /// <param name="s">Sizes and switches.</param>
    public static void Forward<T, TOps>(
        ArrayView<T> xproj, ArrayView<T> whh, ArrayView<T> biasIh, ArrayView<T> biasHh, ArrayView<T> h0,
        ArrayView<T> output, ArrayView<int> active, ArrayView<int> sync, PersistentCellShape s)
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
        int verdict = units * hidden;

        PersistentLstmKernels.LoadGateRows<T, TOps>(shared, whh, hidden, unit0, units, owned, 1);

        Group.Barrier();
        long stepSize = (long)batch * hidden;
        for (int step = 0; step < s.Steps; step++)
        {
            int t = s.Reverse != 0 ? s.Steps - 1 - step : step;
            int tPrev = s.Reverse != 0 ? t + 1 : t - 1;
            int n = active[t];
            // Rows [0, carried) continue from step tPrev; the rest of the n begin here from h0.
            int carried = step == 0 ? 0 : s.Reverse != 0 ? active[tPrev] : n;
            int live = n * owned;
            for (int e = tid; e < batch * owned; e += threads)
            {
                if (e >= live)
                    break;
                int b = e / owned;
                int u = e - b * owned;
                bool carry = b < carried;
                var hp = carry ? output : h0;
                long hRow = (carry ? tPrev * stepSize : 0) + (long)b * hidden;
                T acc = default(TOps).Zero;
                for (int k = 0; k < hidden; k++)
                    acc = default(TOps).MulAdd(hp[hRow + k], shared[k * units + u], acc);
                int j = unit0 + u;
                long at = t * stepSize + (long)b * hidden + j;
                output[at] = RnnCellKernels.Cell<T, TOps>(xproj[at], acc, biasIh, biasHh, j, s.HasBias, s.Relu);
            }

            if (step + 1 < s.Steps && !PersistentLstmKernels.Meet<T, TOps>(shared, verdict, sync, step + 1, s.SpinLimit))
                return;
        }
    }
}

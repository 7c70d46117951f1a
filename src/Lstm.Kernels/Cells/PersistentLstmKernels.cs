using ILGPU;
using ILGPU.Runtime;

namespace Lstm.Kernels.Cells;

/// <summary>
/// The sizes and switches of one persistent LSTM forward launch (<see cref="PersistentLstmKernels.Forward{T, TOps}"/>).
/// </summary>
/// <param name="Steps">T ≥ 1.</param>
/// <param name="Batch">B ≥ 1.</param>
/// <param name="Hidden">H ≥ 1.</param>
/// <param name="Units">U: hidden units per group; the grid has ⌈H/U⌉ groups.</param>
/// <param name="Reverse">1: steps T-1 … 0, h_{t+1} feeding step t; 0: time order.</param>
/// <param name="StoreCells">1: c_t of every step into [T, B, H]; 0: step s's c into half s mod 2 of [2, B, H].</param>
/// <param name="Training">1: write the activations i, f, g, o of every step.</param>
/// <param name="HasBias">1 to add b_ih + b_hh.</param>
/// <param name="SpinLimit">Most polls of the grid barrier before a group gives up and flags the failure.</param>
/// <param name="SkipGroup">A group that leaves at once (a lost group, to test the barrier's time-out); -1 for none.</param>
public readonly record struct PersistentLstmShape(
    int Steps, int Batch, int Hidden, int Units, int Reverse, int StoreCells, int Training, int HasBias, int SpinLimit, int SkipGroup);

/// <summary>
/// One LSTM direction's whole forward time loop in one launch: the groups stay resident for all
/// T steps and meet at a grid barrier between steps.
/// </summary>
/// <remarks>
/// Group g owns hidden units [g·U, min(H, (g+1)·U)). It copies its 4·U rows of W_hh into
/// (dynamic) shared memory once, as [H, 4U] with row r = 4u + q (unit u, gate q in PyTorch's
/// order i, f, g, o), so consecutive threads read consecutive words. Per step, the items
/// (b, r) of its B·4U gate pre-activations are walked in chunks of one per thread: each thread
/// sums h_{t-1}[b, k]·W_hh[q·H + j, k] over k in order from zero with one multiply-add per k,
/// as every GEMM kernel sums an output, into a shared slot; after a group barrier one thread per
/// (b, u) of the chunk runs the cell of <see cref="LstmCellKernels"/> on xproj + hproj + biases.
/// So every value is rounded as on the step-by-step path (recurrent GEMM, then the fused cell).
/// <para>
/// Shared memory: (4U·H + groupSize + 1) elements of T (the weights, the chunk's gates, the
/// group's barrier verdict). The grid barrier is a counter and a generation in global memory
/// (<c>sync</c>: [0] arrivals, [1] generation, [2] failure flag; zeroed by the host before each
/// launch) with a bounded spin: a group that waits longer than <see cref="PersistentLstmShape.SpinLimit"/>
/// polls sets the failure flag and leaves, and every group that sees the flag leaves, so a grid
/// whose groups are not all resident ends instead of hanging, and the host runs the step-by-step
/// path. There is no cooperative launch in ILGPU: the host sizes the grid from the occupancy
/// estimate. Backends: CUDA and ILGPU's CPU accelerator (groups ≤ its multiprocessors); not
/// OpenCL, whose dynamic shared memory ILGPU 1.5.3 mishandles.
/// </para>
/// </remarks>
internal static class PersistentLstmKernels
{
    /// <summary>Index of the arrival counter in the sync buffer.</summary>
    public const int SyncArrivals = 0;

    /// <summary>Index of the barrier generation in the sync buffer.</summary>
    public const int SyncGeneration = 1;

    /// <summary>Index of the failure flag in the sync buffer (non-zero: a group timed out).</summary>
    public const int SyncFailed = 2;

    /// <summary>Length of the sync buffer.</summary>
    public const int SyncLength = 4;

    /// <summary>Elements of T of dynamic shared memory one group needs.</summary>
    /// <param name="hidden">H.</param>
    /// <param name="units">U.</param>
    /// <param name="groupSize">Threads per group.</param>
    public static int SharedElements(int hidden, int units, int groupSize) => 4 * units * hidden + groupSize + 1;

    /// <summary>
    /// The forward loop. Launch ⌈H/U⌉ groups of a multiple of 4 threads with
    /// <see cref="SharedElements"/> elements of dynamic shared memory, all of them co-resident.
    /// </summary>
    /// <param name="xproj">[T, B, 4H] x_t W_ihᵀ of every step, without bias.</param>
    /// <param name="whh">W_hh: [4H, H].</param>
    /// <param name="biasIh">b_ih: [4H]; read only when HasBias is 1.</param>
    /// <param name="biasHh">b_hh: [4H]; read only when HasBias is 1.</param>
    /// <param name="h0">[B, H] the state before the first step walked.</param>
    /// <param name="c0">[B, H].</param>
    /// <param name="output">[T, B, H] out: h_t.</param>
    /// <param name="cells">[T, B, H] or [2, B, H] out (see <see cref="PersistentLstmShape.StoreCells"/>).</param>
    /// <param name="acts">[T, B, 4H] out when training: i, f, g, o as <see cref="LstmCellKernels.ForwardTraining{T, TOps}"/> lays them out.</param>
    /// <param name="sync">The grid barrier's state, <see cref="SyncLength"/> ints, zero at launch.</param>
    /// <param name="s">Sizes and switches.</param>
    public static void Forward<T, TOps>(
        ArrayView<T> xproj, ArrayView<T> whh, ArrayView<T> biasIh, ArrayView<T> biasHh, ArrayView<T> h0, ArrayView<T> c0,
        ArrayView<T> output, ArrayView<T> cells, ArrayView<T> acts, ArrayView<int> sync, PersistentLstmShape s)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        if (Grid.IdxX == s.SkipGroup)
            return;
        var shared = SharedMemory.GetDynamic<T>();
        int hidden = s.Hidden, batch = s.Batch, units = s.Units;
        int rows = 4 * units;
        int unit0 = Grid.IdxX * units;
        int owned = hidden - unit0 < units ? hidden - unit0 : units;
        int tid = Group.IdxX, threads = Group.DimX;
        int weights = rows * hidden;
        int verdict = weights + threads;

        LoadGateRows<T, TOps>(shared, whh, hidden, unit0, units, owned, 4);

        Group.Barrier();
        long stepSize = (long)batch * hidden;
        int items = batch * rows;
        for (int step = 0; step < s.Steps; step++)
        {
            int t = s.Reverse != 0 ? s.Steps - 1 - step : step;
            int tPrev = s.Reverse != 0 ? t + 1 : t - 1;
            var hPrev = step == 0 ? h0 : output.SubView(tPrev * stepSize, stepSize);
            var cPrev = step == 0 ? c0 : cells.SubView((s.StoreCells != 0 ? tPrev : (step - 1) & 1) * stepSize, stepSize);
            var c = cells.SubView((s.StoreCells != 0 ? t : step & 1) * stepSize, stepSize);
            var h = output.SubView(t * stepSize, stepSize);
            var x = xproj.SubView(t * stepSize * 4, stepSize * 4);
            var a = s.Training != 0 ? acts.SubView(t * stepSize * 4, stepSize * 4) : acts;
            for (int chunk = 0; chunk < items; chunk += threads)
            {
                int e = chunk + tid;
                if (e < items)
                {
                    int b = e / rows;
                    int r = e - b * rows;
                    T acc = ops.Zero;
                    if ((r >> 2) < owned)
                    {
                        long hRow = (long)b * hidden;
                        for (int k = 0; k < hidden; k++)
                            acc = ops.MulAdd(hPrev[hRow + k], shared[k * rows + r], acc);
                    }

                    shared[weights + tid] = acc;
                }

                Group.Barrier();
                int e4 = chunk + 4 * tid;
                if (4 * tid < threads && e4 < items)
                {
                    int b = e4 / rows;
                    int u = (e4 - b * rows) >> 2;
                    if (u < owned)
                        Cell<T, TOps>(shared, weights + 4 * tid, b, unit0 + u, hidden, x, biasIh, biasHh, cPrev, c, h, a, s);
                }

                Group.Barrier();
            }

            if (step + 1 < s.Steps)
            {
                if (tid == 0)
                    shared[verdict] = GridBarrier(sync, Grid.DimX, step + 1, s.SpinLimit) ? ops.One : ops.Zero;
                Group.Barrier();
                if (!ops.Greater(shared[verdict], ops.Zero))
                    return;
            }
        }
    }

    /// <summary>The gates of (b, j) from the chunk's shared slots, plus xproj and biases, then the cell.</summary>
    private static void Cell<T, TOps>(
        ArrayView<T> shared, int slot, int b, int j, int hidden, ArrayView<T> x, ArrayView<T> biasIh, ArrayView<T> biasHh,
        ArrayView<T> cPrev, ArrayView<T> c, ArrayView<T> h, ArrayView<T> acts, PersistentLstmShape s)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        long row = (long)b * 4 * hidden;
        T gi = ops.Add(x[row + j], shared[slot]);
        T gf = ops.Add(x[row + hidden + j], shared[slot + 1]);
        T gg = ops.Add(x[row + 2 * hidden + j], shared[slot + 2]);
        T go = ops.Add(x[row + 3 * hidden + j], shared[slot + 3]);
        if (s.HasBias != 0)
        {
            gi = ops.Add(gi, ops.Add(biasIh[j], biasHh[j]));
            gf = ops.Add(gf, ops.Add(biasIh[hidden + j], biasHh[hidden + j]));
            gg = ops.Add(gg, ops.Add(biasIh[2 * hidden + j], biasHh[2 * hidden + j]));
            go = ops.Add(go, ops.Add(biasIh[3 * hidden + j], biasHh[3 * hidden + j]));
        }

        LstmCellKernels.Cell<T, TOps>(b * hidden + j, row, j, hidden, gi, gf, gg, go, cPrev, c, h, acts, s.Training != 0);
    }

    /// <summary>
    /// Loads a group's slice of W_hh [G·H, H] into shared memory, k-major: element k·(G·U) + r holds
    /// row (gate r mod G, unit unit0 + r / G) at column k, zero for the units past H. The caller
    /// waits for the group before reading it. The forward loops of every cell read their rows from it
    /// (G = 4 LSTM, 3 GRU, 1 RNN).
    /// </summary>
    internal static void LoadGateRows<T, TOps>(ArrayView<T> shared, ArrayView<T> whh, int hidden, int unit0, int units, int owned, int gates)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        int rows = gates * units;
        int weights = rows * hidden;
        for (int e = Group.IdxX; e < weights; e += Group.DimX)
        {
            int k = e / rows;
            int r = e - k * rows;
            int u = r / gates;
            shared[e] = u < owned ? whh[(long)((r - gates * u) * hidden + unit0 + u) * hidden + k] : default(TOps).Zero;
        }
    }

    /// <summary>
    /// One group's thread 0 at the grid barrier that ends step number <paramref name="generation"/>:
    /// true once every group has arrived; false when the failure flag is set or the wait ran past
    /// <paramref name="spinLimit"/> polls (then it sets the flag).
    /// </summary>
    internal static bool GridBarrier(ArrayView<int> sync, int groups, int generation, int spinLimit) =>
        Cells.GridBarrier.Wait(sync, groups, generation, spinLimit);
}

using ILGPU;
using ILGPU.Runtime;

namespace Lstm.Kernels.Cells;

/// <summary>
/// The sizes and switches of one persistent LSTM forward launch (<see cref="PersistentLstmKernels.Forward{T, TOps}"/>)
/// or backward launch (<see cref="PersistentLstmBackwardKernels.Backward{T, TOps}"/>).
/// </summary>
/// <param name="Steps">T ≥ 1.</param>
/// <param name="Batch">B ≥ 1.</param>
/// <param name="Hidden">H ≥ 1.</param>
/// <param name="Units">U: hidden units per group; the grid has ⌈H/U⌉ groups.</param>
/// <param name="Reverse">1: steps T-1 … 0, h_{t+1} feeding step t; 0: time order.</param>
/// <param name="StoreCells">1: c_t of every step into [T, B, H]; 0: step s's c into half s mod 2 of [2, B, H].</param>
/// <param name="Training">1: write the activations i, f, g, o of every step (and, with a projection, o ⊙ tanh(c_t) of every step).</param>
/// <param name="HasBias">1 to add b_ih + b_hh.</param>
/// <param name="SpinLimit">Most polls of the grid barrier before a group gives up and flags the failure.</param>
/// <param name="SkipGroup">A group that leaves at once (a lost group, to test the barrier's time-out); -1 for none.</param>
/// <param name="Proj">P: PyTorch's proj_size, h_t = W_hr (o ⊙ tanh(c_t)) of P features; 0 for none.</param>
/// <param name="ProjUnits">V: projection features per group when <paramref name="Proj"/> &gt; 0 (group g owns [g·V, min(P, (g+1)·V))).</param>
public readonly record struct PersistentLstmShape(
    int Steps, int Batch, int Hidden, int Units, int Reverse, int StoreCells, int Training, int HasBias, int SpinLimit, int SkipGroup,
    int Proj = 0, int ProjUnits = 0);

/// <summary>
/// One LSTM direction's whole forward time loop in one launch: the groups stay resident for all
/// T steps and meet at a grid barrier between steps.
/// </summary>
/// <remarks>
/// Group g owns hidden units [g·U, min(H, (g+1)·U)). It copies its 4·U rows of W_hh [4H, H_out]
/// (H_out = P with a projection, else H) into (dynamic) shared memory once, as [H_out, 4U] with
/// row r = 4u + q (unit u, gate q in PyTorch's order i, f, g, o), so consecutive threads read
/// consecutive words. Per step, the items (b, r) of the active rows' gate pre-activations are
/// walked in chunks of one per thread: each thread sums h_{t-1}[b, k]·W_hh[q·H + j, k] over k in
/// order from zero with one multiply-add per k, as every GEMM kernel sums an output, into a shared
/// slot; after a group barrier one thread per (b, u) of the chunk runs the cell of
/// <see cref="LstmCellKernels"/> on xproj + hproj + biases. So every value is rounded as on the
/// step-by-step path (recurrent GEMM, then the fused cell).
/// <para>
/// Variable lengths (PyTorch's packed sequences, rows sorted by length, longest first): step t
/// runs its first n_t = <c>active</c>[t] rows only; a row past its length writes nothing, so its
/// output stays zero and its state stays that of its own last step. Rows [0, carried) continue
/// from the previous step and rows [carried, n_t) begin at t from h0, c0: forward every row begins
/// at t = 0, in reverse a row begins at its own last step (carried = n_{t+1}).
/// </para>
/// <para>
/// Projection (P &gt; 0): group g also owns features [g·V, min(P, (g+1)·V)) of h and keeps the
/// columns of W_hr [P, H] of those rows in shared memory as [H, V]. A step is then the gates and
/// cell, writing r_t = o ⊙ tanh(c_t) [B, H]; a grid barrier; h_t[b, p] = Σ_k r_t[b, k]·W_hr[p, k]
/// over k in order from zero; a grid barrier: two a step.
/// </para>
/// <para>
/// Shared memory: (4U·H_out + H·V + groupSize + 1) elements of T (the weights, the chunk's gates,
/// the group's barrier verdict). The grid barrier is a counter and a generation in global memory
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
    /// <param name="proj">P, or 0 for no projection.</param>
    /// <param name="projUnits">V: projection features per group (read when <paramref name="proj"/> &gt; 0).</param>
    public static int SharedElements(int hidden, int units, int groupSize, int proj = 0, int projUnits = 0) =>
        4 * units * (proj > 0 ? proj : hidden) + (proj > 0 ? hidden * projUnits : 0) + 4 * units + groupSize + 1;

    /// <summary>
    /// The forward loop. Launch ⌈H/U⌉ groups of a multiple of 4 threads with
    /// <see cref="SharedElements"/> elements of dynamic shared memory, all of them co-resident.
    /// </summary>
    /// <param name="xproj">[T, B, 4H] x_t W_ihᵀ of every step, without bias.</param>
    /// <param name="whh">W_hh: [4H, H_out].</param>
    /// <param name="whr">W_hr: [P, H]; read only when Proj &gt; 0.</param>
    /// <param name="biasIh">b_ih: [4H]; read only when HasBias is 1.</param>
    /// <param name="biasHh">b_hh: [4H]; read only when HasBias is 1.</param>
    /// <param name="h0">[B, H_out] the state before the first step walked.</param>
    /// <param name="c0">[B, H].</param>
    /// <param name="output">[T, B, H_out] out: h_t of the active rows (the others untouched).</param>
    /// <param name="cells">[T, B, H] or [2, B, H] out (see <see cref="PersistentLstmShape.StoreCells"/>).</param>
    /// <param name="hRaw">With a projection, out: o ⊙ tanh(c_t), [T, B, H] when training, else [B, H] rewritten each step; unread without.</param>
    /// <param name="acts">[T, B, 4H] out when training: i, f, g, o as <see cref="LstmCellKernels.ForwardTraining{T, TOps}"/> lays them out.</param>
    /// <param name="active">[T] n_t: the rows active at step t (a prefix of the rows, sorted by length).</param>
    /// <param name="sync">The grid barrier's state, <see cref="SyncLength"/> ints, zero at launch.</param>
    /// <param name="s">Sizes and switches.</param>
    public static void Forward<T, TOps>(
        ArrayView<T> xproj, ArrayView<T> whh, ArrayView<T> whr, ArrayView<T> biasIh, ArrayView<T> biasHh, ArrayView<T> h0, ArrayView<T> c0,
        ArrayView<T> output, ArrayView<T> cells, ArrayView<T> hRaw, ArrayView<T> acts, ArrayView<int> active, ArrayView<int> sync,
        PersistentLstmShape s)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        if (Grid.IdxX == s.SkipGroup)
            return;
        var shared = SharedMemory.GetDynamic<T>();
        int hidden = s.Hidden, batch = s.Batch, units = s.Units, proj = s.Proj;
        int width = proj > 0 ? proj : hidden;
        int rows = 4 * units;
        int unit0 = Grid.IdxX * units;
        int owned = hidden - unit0 < units ? hidden - unit0 : units;
        int projUnits = s.ProjUnits;
        int feature0 = Grid.IdxX * projUnits;
        int features = proj - feature0 < projUnits ? proj - feature0 : projUnits;
        if (features < 0)
            features = 0;
        int tid = Group.IdxX, threads = Group.DimX;
        int weights = rows * width;
        int bias = weights + (proj > 0 ? hidden * projUnits : 0);
        int slots = bias + rows;
        int verdict = slots + threads;

        LoadGateRows<T, TOps>(shared, whh, hidden, width, unit0, units, owned, 4);
        if (proj > 0)
        {
            // Rows [feature0, feature0 + V) of W_hr [P, H] as [H, V].
            LoadGateRows<T, TOps>(shared.SubView(weights, hidden * projUnits), whr, proj, hidden, feature0, projUnits, features, 1);
        }

        // b_ih + b_hh of the group's gate rows, summed once as the cell sums them at every step.
        for (int e = tid; e < rows; e += threads)
        {
            int u = e >> 2;
            long q = (e & 3) * hidden + unit0 + u;
            shared[bias + e] = s.HasBias != 0 && u < owned ? default(TOps).Add(biasIh[q], biasHh[q]) : default(TOps).Zero;
        }

        Group.Barrier();
        long stepSize = (long)batch * hidden;
        long outStep = (long)batch * width;
        int items = batch * rows;
        for (int step = 0; step < s.Steps; step++)
        {
            // Only ints live across the chunks; the step's views are made where they are read.
            int t = s.Reverse != 0 ? s.Steps - 1 - step : step;
            int tPrev = s.Reverse != 0 ? t + 1 : t - 1;
            int n = active[t];
            // Rows [0, carried) continue from step tPrev; the rest of the n begin here from h0, c0.
            int carried = step == 0 ? 0 : s.Reverse != 0 ? active[tPrev] : n;
            // The chunks walk every row, so that the loop's bounds stay uniform (the active rows'
            // items are the first n·4U); the rows past n only meet the group barriers.
            int live = n * rows;
            for (int chunk = 0; chunk < items; chunk += threads)
            {
                int e = chunk + tid;
                if (e < live)
                {
                    int b = e / rows;
                    int r = e - b * rows;
                    int u = r >> 2;
                    T acc = default(TOps).Zero;
                    if (u < owned)
                    {
                        bool carry = b < carried;
                        var hp = carry ? output : h0;
                        long hRow = (carry ? tPrev * outStep : 0) + (long)b * width;
                        for (int k = 0; k < width; k++)
                            acc = default(TOps).MulAdd(hp[hRow + k], shared[k * rows + r], acc);

                        // The pre-activation as the step loop's cell forms it: (xproj + hproj) + (b_ih + b_hh).
                        acc = default(TOps).Add(xproj[(t * batch + b) * 4L * hidden + (r & 3) * hidden + unit0 + u], acc);
                        if (s.HasBias != 0)
                            acc = default(TOps).Add(acc, shared[bias + r]);
                    }

                    shared[slots + tid] = acc;
                }

                Group.Barrier();
                int e4 = chunk + 4 * tid;
                if (4 * tid < threads && e4 < live)
                {
                    int b = e4 / rows;
                    int u = (e4 - b * rows) >> 2;
                    if (u < owned)
                        Cell<T, TOps>(shared, slots + 4 * tid, b, unit0 + u, step, b < carried, c0, cells, output, hRaw, acts, s);
                }

                Group.Barrier();
            }

            if (proj > 0)
            {
                // h_t = r_t W_hrᵀ needs every group's units of r_t.
                if (!Meet<T, TOps>(shared, verdict, sync, 2 * step + 1, s.SpinLimit))
                    return;
                // Over every row's features so that the loop's bounds stay uniform; the active rows' come first.
                int outLive = n * features;
                for (int e = tid; e < batch * features; e += threads)
                {
                    if (e >= outLive)
                        break;
                    int b = e / features;
                    int v = e - b * features;
                    long row = (s.Training != 0 ? t * stepSize : 0) + (long)b * hidden;
                    T acc = default(TOps).Zero;
                    for (int k = 0; k < hidden; k++)
                        acc = default(TOps).MulAdd(hRaw[row + k], shared[weights + k * projUnits + v], acc);
                    output[t * outStep + b * width + feature0 + v] = acc;
                }
            }

            if (step + 1 < s.Steps && !Meet<T, TOps>(shared, verdict, sync, proj > 0 ? 2 * step + 2 : step + 1, s.SpinLimit))
                return;
        }
    }

    /// <summary>
    /// The whole group at the grid barrier: its threads done, thread 0 meets the other groups and
    /// tells the group through the shared verdict slot whether every group came (false: leave).
    /// </summary>
    internal static bool Meet<T, TOps>(ArrayView<T> shared, int verdict, ArrayView<int> sync, int generation, int spinLimit)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        Group.Barrier();
        if (Group.IdxX == 0)
            shared[verdict] = GridBarrier(sync, Grid.DimX, generation, spinLimit) ? ops.One : ops.Zero;
        Group.Barrier();
        return ops.Greater(shared[verdict], ops.Zero);
    }

    /// <summary>
    /// The cell of (b, j) at loop index <paramref name="step"/> from its four pre-activations in the
    /// chunk's shared slots: c_{t-1} from the previous step's c (<paramref name="carry"/>) or from
    /// c0, h_t (with a projection o ⊙ tanh(c_t)) into its step's place.
    /// </summary>
    private static void Cell<T, TOps>(
        ArrayView<T> shared, int slot, int b, int j, int step, bool carry,
        ArrayView<T> c0, ArrayView<T> cells, ArrayView<T> output, ArrayView<T> hRaw, ArrayView<T> acts, PersistentLstmShape s)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        int hidden = s.Hidden;
        int t = s.Reverse != 0 ? s.Steps - 1 - step : step;
        int tPrev = s.Reverse != 0 ? t + 1 : t - 1;
        long stepSize = (long)s.Batch * hidden;
        long row = (long)b * 4 * hidden;
        var cPrev = carry ? cells.SubView((s.StoreCells != 0 ? tPrev : (step - 1) & 1) * stepSize, stepSize) : c0;
        var c = cells.SubView((s.StoreCells != 0 ? t : step & 1) * stepSize, stepSize);
        var h = s.Proj == 0 ? output.SubView(t * stepSize, stepSize) : s.Training != 0 ? hRaw.SubView(t * stepSize, stepSize) : hRaw;
        var a = s.Training != 0 ? acts.SubView(t * stepSize * 4, stepSize * 4) : acts;
        LstmCellKernels.Cell<T, TOps>(b * hidden + j, row, j, hidden, shared[slot], shared[slot + 1], shared[slot + 2], shared[slot + 3], cPrev, c, h, a, s.Training != 0);
    }

    /// <summary>
    /// Loads a group's slice of W_hh [G·H, H] into shared memory, k-major: element k·(G·U) + r holds
    /// row (gate r mod G, unit unit0 + r / G) at column k, zero for the units past H. The caller
    /// waits for the group before reading it. The forward loops of every cell read their rows from it
    /// (G = 4 LSTM, 3 GRU, 1 RNN).
    /// </summary>
    internal static void LoadGateRows<T, TOps>(ArrayView<T> shared, ArrayView<T> whh, int hidden, int unit0, int units, int owned, int gates)
        where T : unmanaged
        where TOps : struct, INumOps<T> =>
        LoadGateRows<T, TOps>(shared, whh, hidden, hidden, unit0, units, owned, gates);

    /// <summary>
    /// <see cref="LoadGateRows{T, TOps}(ArrayView{T}, ArrayView{T}, int, int, int, int, int)"/> for W_hh [G·H, <paramref name="width"/>]
    /// (width = P for an LSTM with a projection): element k·(G·U) + r, k &lt; width.
    /// </summary>
    internal static void LoadGateRows<T, TOps>(ArrayView<T> shared, ArrayView<T> whh, int hidden, int width, int unit0, int units, int owned, int gates)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        int rows = gates * units;
        int weights = rows * width;
        for (int e = Group.IdxX; e < weights; e += Group.DimX)
        {
            int k = e / rows;
            int r = e - k * rows;
            int u = r / gates;
            shared[e] = u < owned ? whh[(long)((r - gates * u) * hidden + unit0 + u) * width + k] : default(TOps).Zero;
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

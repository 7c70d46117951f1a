using ILGPU;
using ILGPU.Runtime;

namespace Lstm.Kernels.Cells;

/// <summary>
/// One LSTM direction's whole backward time loop in one launch (the forward's steps walked back
/// from the last to the first): the groups stay resident for all T steps and meet at one grid
/// barrier a step (two with a projection).
/// </summary>
/// <remarks>
/// Group g owns hidden units [g·U, min(H, (g+1)·U)) and features [g·V, min(H_out, (g+1)·V)) of h
/// (H_out = P with a projection, else H, and then V = U). It copies the V columns of W_hh
/// [4H, H_out] of its features into (dynamic) shared memory once, as [4H, V]. Per step, over the
/// active rows b &lt; n_t only (as the forward, <see cref="PersistentLstmKernels"/>): (1) for each
/// (b, u), the cell backward of <see cref="LstmCellKernels.BackwardElement{T, TOps}"/> from
/// dy_t + dh_rec, the stored activations, c_t and c_{t-1} (c0 for a row that began at t), writing
/// the four gate gradients of unit u to dgates_t [B, 4H] in global memory and dc in place; (2) the
/// grid barrier, after which every group's gate gradients of the step are visible; (3) for each
/// (b, v), dh_{t-1}[b, v] = Σ_r dgates_t[b, r]·W_hh[r, v] over r in order from zero with one
/// multiply-add per r, as every GEMM kernel sums an output, into dh_rec in place. A group reads and
/// writes only its own features of dh_rec and units of dc, and each step's gate gradients have
/// their own slice of dgates, so the next step's (1) needs no second grid barrier. So every value
/// is rounded as on the step-by-step path (the fused cell backward, then the recurrent GEMM
/// dgates_t · W_hh). Rows past their length are not touched: their dh_rec and dc wait, unchanged,
/// for the row's own last step; at the end dh_rec and dc hold dh0 and dc0 of every row of length ≥ 1.
/// <para>
/// With a projection (h_t = W_hr r_t, r_t = o ⊙ tanh(c_t)) the group also keeps the U columns of
/// W_hr [P, H] of its units as [P, U], and (1) becomes: (1a) for each (b, v), dh_t = dy_t + dh_rec
/// (as the step loop's copy and axpy), kept in dhSum for dW_hr; the grid barrier; (1b) for each
/// (b, u), d r_t[b, u] = Σ_p dh_t[b, p]·W_hr[p, u] over p in order from zero, then the cell backward
/// from it with a zero dh_rec, as the step loop calls it.
/// </para>
/// <para>
/// Shared memory: 4H·V + P·U + 1 elements of T (the weight columns, the group's barrier verdict).
/// The grid barrier, its sync buffer and its bounded spin are the forward's: a grid whose groups
/// are not all resident ends with the failure flag set instead of hanging, its outputs partial.
/// </para>
/// </remarks>
internal static class PersistentLstmBackwardKernels
{
    /// <summary>Elements of T of dynamic shared memory one group needs.</summary>
    /// <param name="hidden">H.</param>
    /// <param name="units">U.</param>
    /// <param name="proj">P, or 0 for no projection.</param>
    /// <param name="projUnits">V: features of h per group when <paramref name="proj"/> &gt; 0.</param>
    public static int SharedElements(int hidden, int units, int proj = 0, int projUnits = 0) =>
        proj > 0 ? 4 * hidden * projUnits + proj * units + 1 : 4 * hidden * units + 1;

    /// <summary>
    /// The backward loop. Launch ⌈H/U⌉ groups with <see cref="SharedElements"/> elements of
    /// dynamic shared memory, all of them co-resident, and a zeroed sync buffer.
    /// </summary>
    /// <param name="dy">[T, B, H_out] the gradient of each step's output from above.</param>
    /// <param name="whh">W_hh: [4H, H_out].</param>
    /// <param name="whr">W_hr: [P, H]; read only when Proj &gt; 0.</param>
    /// <param name="acts">[T, B, 4H] the forward's activations i, f, g, o.</param>
    /// <param name="cells">[T, B, H] the forward's c_t.</param>
    /// <param name="c0">[B, H] the c before the forward's first step.</param>
    /// <param name="dhRec">[B, H_out] in: the gradient of h_n; out: that of h0 (rows of length ≥ 1).</param>
    /// <param name="dc">[B, H] in: the gradient of c_n; out: that of c0 (rows of length ≥ 1).</param>
    /// <param name="dgates">[T, B, 4H] out: the gate gradients of every step's active rows.</param>
    /// <param name="dhSum">With a projection, [T, B, P] out: dy_t + dh_rec of every step's active rows; unread without.</param>
    /// <param name="scratch">With a projection, [2, B, H]: d r_t of the step, then zeros (the cell's dh_rec); unread without.</param>
    /// <param name="active">[T] n_t: the rows active at step t (a prefix of the rows, sorted by length).</param>
    /// <param name="sync">The grid barrier's state, <see cref="PersistentLstmKernels.SyncLength"/> ints, zero at launch.</param>
    /// <param name="s">Sizes and switches (Steps, Batch, Hidden, Units, Reverse, SpinLimit, SkipGroup, Proj, ProjUnits; the others unread).</param>
    public static void Backward<T, TOps>(
        ArrayView<T> dy, ArrayView<T> whh, ArrayView<T> whr, ArrayView<T> acts, ArrayView<T> cells, ArrayView<T> c0,
        ArrayView<T> dhRec, ArrayView<T> dc, ArrayView<T> dgates, ArrayView<T> dhSum, ArrayView<T> scratch,
        ArrayView<int> active, ArrayView<int> sync, PersistentLstmShape s)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        if (Grid.IdxX == s.SkipGroup)
            return;
        var shared = SharedMemory.GetDynamic<T>();
        int hidden = s.Hidden, batch = s.Batch, units = s.Units, proj = s.Proj;
        int width = proj > 0 ? proj : hidden;
        int gates = 4 * hidden;
        int unit0 = Grid.IdxX * units;
        int owned = hidden - unit0 < units ? hidden - unit0 : units;
        int projUnits = proj > 0 ? s.ProjUnits : units;
        int feature0 = Grid.IdxX * projUnits;
        int features = width - feature0 < projUnits ? width - feature0 : projUnits;
        if (features < 0)
            features = 0;
        int tid = Group.IdxX, threads = Group.DimX;
        int weights = gates * projUnits;
        int verdict = weights + (proj > 0 ? proj * units : 0);

        LoadColumns<T, TOps>(shared, whh, gates, width, feature0, projUnits, features);
        if (proj > 0)
            LoadColumns<T, TOps>(shared.SubView(weights, proj * units), whr, proj, hidden, unit0, units, owned);

        Group.Barrier();
        long stepSize = (long)batch * hidden;
        long outStep = (long)batch * width;
        int generation = 0;
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
            // The loops walk every row so that their bounds stay uniform; the active rows' items come first.
            int live = n * owned;
            if (proj > 0)
            {
                // dh_t = dy_t + dh_rec on this group's features (the step loop's axpy onto a copy of dy).
                long sumAt = t * outStep;
                int outLive = n * features;
                for (int e = tid; e < batch * features; e += threads)
                {
                    if (e >= outLive)
                        break;
                    int b = e / features;
                    int i = b * width + feature0 + e - b * features;
                    dhSum[sumAt + i] = default(TOps).MulAdd(default(TOps).One, dhRec[i], dy[sumAt + i]);
                }

                if (!PersistentLstmKernels.Meet<T, TOps>(shared, verdict, sync, ++generation, s.SpinLimit))
                    return;
            }

            for (int e = tid; e < batch * owned; e += threads)
            {
                if (e >= live)
                    break;
                int b = e / owned;
                int u = e - b * owned;
                int idx = b * hidden + unit0 + u;
                if (proj > 0)
                {
                    // d(o ⊙ tanh c) = dh_t W_hr, the cell's dy; its dh_rec is zero, as the step loop passes it.
                    long row = t * outStep + (long)b * width;
                    T acc = default(TOps).Zero;
                    for (int p = 0; p < proj; p++)
                        acc = default(TOps).MulAdd(dhSum[row + p], shared[weights + p * units + u], acc);
                    scratch[idx] = acc;
                }

                var dh = proj > 0 ? scratch.SubView(0, stepSize) : dy.SubView(t * stepSize, stepSize);
                var rec = proj > 0 ? scratch.SubView(stepSize, stepSize) : dhRec;
                CellBackward<T, TOps>(idx, b < carried, t, tPrev, dh, rec, dc, acts, cells, c0, dgates, stepSize, hidden);
            }

            if (!PersistentLstmKernels.Meet<T, TOps>(shared, verdict, sync, ++generation, s.SpinLimit))
                return;

            int recLive = n * features;
            for (int e = tid; e < batch * features; e += threads)
            {
                if (e >= recLive)
                    break;
                int b = e / features;
                int v = e - b * features;
                long row = (t * (long)batch + b) * gates;
                T acc = default(TOps).Zero;
                for (int r = 0; r < gates; r++)
                    acc = default(TOps).MulAdd(dgates[row + r], shared[r * projUnits + v], acc);
                dhRec[b * width + feature0 + v] = acc;
            }

            Group.Barrier();
        }
    }

    /// <summary>
    /// The cell backward of element <paramref name="idx"/> of [B, H] at time <paramref name="t"/>:
    /// c_{t-1} from step <paramref name="tPrev"/> (<paramref name="carry"/>) or c0.
    /// </summary>
    private static void CellBackward<T, TOps>(
        int idx, bool carry, int t, int tPrev, ArrayView<T> dh, ArrayView<T> dhRec, ArrayView<T> dc, ArrayView<T> acts,
        ArrayView<T> cells, ArrayView<T> c0, ArrayView<T> dgates, long stepSize, int hidden)
        where T : unmanaged
        where TOps : struct, INumOps<T> =>
        LstmCellKernels.BackwardElement<T, TOps>(
            idx, dh, dhRec, dc, acts.SubView(t * stepSize * 4, stepSize * 4), cells.SubView(t * stepSize, stepSize),
            carry ? cells.SubView(tPrev * stepSize, stepSize) : c0, dgates.SubView(t * stepSize * 4, stepSize * 4), hidden);

    /// <summary>
    /// Columns [col0, col0 + count) of a row-major [rows, columns] matrix into shared memory as
    /// [rows, count] (row k's column col0 + v at k·count + v), zero for the columns past
    /// <paramref name="owned"/>. The caller waits for the group before reading it.
    /// </summary>
    private static void LoadColumns<T, TOps>(ArrayView<T> shared, ArrayView<T> matrix, int rows, int columns, int col0, int count, int owned)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        int total = rows * count;
        for (int e = Group.IdxX; e < total; e += Group.DimX)
        {
            int k = e / count;
            int v = e - k * count;
            shared[e] = v < owned ? matrix[(long)k * columns + col0 + v] : default(TOps).Zero;
        }
    }
}

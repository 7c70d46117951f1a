using ILGPU;

namespace Lstm.Kernels;

/// <summary>
/// The element-wise parts of attention that matrix products do not cover: tanh and its backward,
/// a softmax over each row's first columns (the keys a query may see) and its backward, zeroing
/// the rows past a sequence's length, and Bahdanau's additive score with its backward.
/// </summary>
/// <remarks>
/// Dimension letters: N rows, C columns, B batch, U queries per batch row (decoder steps),
/// S keys per batch row (source steps), A the additive score's width. Lengths and masks are
/// stored as exact integers of T, as the loss kernels' targets are. Every kernel takes the number
/// of threads launched (stride) and loops, as <c>LstmCellKernels</c> explains; each output has one
/// thread and sums in a fixed order, so the results do not depend on the launch.
/// </remarks>
internal static class AttentionKernels
{
    /// <summary>y[i] = tanh(x[i]); y may be x.</summary>
    /// <param name="index">Element i.</param>
    /// <param name="x">[n].</param>
    /// <param name="y">[n] out.</param>
    /// <param name="n">Elements.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void Tanh<T, TOps>(Index1D index, ArrayView<T> x, ArrayView<T> y, int n, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        for (int i = index; i < n; i += stride)
            y[i] = ops.Tanh(x[i]);
    }

    /// <summary>dx[i] = dy[i]·(1 − y[i]²), the backward of y = tanh(x); dx may be dy.</summary>
    /// <param name="index">Element i.</param>
    /// <param name="y">[n] the forward's output.</param>
    /// <param name="dy">[n].</param>
    /// <param name="dx">[n] out.</param>
    /// <param name="n">Elements.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void TanhBackward<T, TOps>(Index1D index, ArrayView<T> y, ArrayView<T> dy, ArrayView<T> dx, int n, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        for (int i = index; i < n; i += stride)
        {
            T yi = y[i];
            dx[i] = ops.Mul(dy[i], ops.Sub(ops.One, ops.Mul(yi, yi)));
        }
    }

    /// <summary>
    /// Softmax over the first len[r] columns of each row, zeros in the others (the masked
    /// logits −∞): m = max_{j &lt; len} x[r,j], y[r,j] = e^(x[r,j] − m) / Σ_{j &lt; len} e^(x[r,j] − m).
    /// A row of length 0 is all zeros. Every exponent is ≤ 0, so nothing overflows.
    /// </summary>
    /// <param name="index">Row r.</param>
    /// <param name="x">[N, C] scores.</param>
    /// <param name="lengths">[N] columns each row sees, in [0, C] as exact integers of T.</param>
    /// <param name="y">[N, C] out; may be x.</param>
    /// <param name="rows">N.</param>
    /// <param name="cols">C.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void MaskedSoftmax<T, TOps>(Index1D index, ArrayView<T> x, ArrayView<T> lengths, ArrayView<T> y, int rows, int cols, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        for (int r = index; r < rows; r += stride)
        {
            long row = (long)r * cols;
            int len = (int)ops.ToDouble(lengths[r]);
            len = len < 0 ? 0 : len > cols ? cols : len;
            T max = len > 0 ? x[row] : ops.Zero;
            for (int j = 1; j < len; j++)
            {
                if (ops.Greater(x[row + j], max))
                    max = x[row + j];
            }

            T sum = ops.Zero;
            for (int j = 0; j < len; j++)
                sum = ops.Add(sum, ops.ExpNonPositive(ops.Sub(x[row + j], max)));
            T inv = len > 0 ? ops.Div(ops.One, sum) : ops.Zero;
            for (int j = 0; j < cols; j++)
                y[row + j] = j < len ? ops.Mul(ops.ExpNonPositive(ops.Sub(x[row + j], max)), inv) : ops.Zero;
        }
    }

    /// <summary>
    /// The backward of a (masked) row softmax: dx[r,j] = y[r,j]·(dy[r,j] − Σ_k y[r,k]·dy[r,k]);
    /// zero wherever y is (the masked columns). dx may be dy.
    /// </summary>
    /// <param name="index">Row r.</param>
    /// <param name="y">[N, C] the forward's output.</param>
    /// <param name="dy">[N, C].</param>
    /// <param name="dx">[N, C] out.</param>
    /// <param name="rows">N.</param>
    /// <param name="cols">C.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void SoftmaxBackward<T, TOps>(Index1D index, ArrayView<T> y, ArrayView<T> dy, ArrayView<T> dx, int rows, int cols, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        for (int r = index; r < rows; r += stride)
        {
            long row = (long)r * cols;
            T dot = ops.Zero;
            for (int j = 0; j < cols; j++)
                dot = ops.MulAdd(y[row + j], dy[row + j], dot);
            for (int j = 0; j < cols; j++)
                dx[row + j] = ops.Mul(y[row + j], ops.Sub(dy[row + j], dot));
        }
    }

    /// <summary>y[r, :] = 0 for every row whose mask is not positive (padded decoder steps); other rows unchanged.</summary>
    /// <param name="index">Element of y, flat.</param>
    /// <param name="mask">[N] 1 for rows kept, 0 for rows cleared.</param>
    /// <param name="y">[N, C], updated.</param>
    /// <param name="n">N·C.</param>
    /// <param name="cols">C.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void MaskRows<T, TOps>(Index1D index, ArrayView<T> mask, ArrayView<T> y, int n, int cols, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        for (int i = index; i < n; i += stride)
        {
            if (!ops.Greater(mask[i / cols], ops.Zero))
                y[i] = ops.Zero;
        }
    }

    /// <summary>
    /// Bahdanau's additive scores: scores[b,u,s] = Σ_a v[a]·tanh(q[b·U + u, a] + k[b·S + s, a]),
    /// the sum over a in order.
    /// </summary>
    /// <param name="index">Score (b, u, s), flat.</param>
    /// <param name="q">[B·U, A] projected queries (W_q h_t).</param>
    /// <param name="k">[B·S, A] projected keys (W_k h̄_s).</param>
    /// <param name="v">[A].</param>
    /// <param name="scores">[B, U, S] out.</param>
    /// <param name="batch">B.</param>
    /// <param name="queries">U.</param>
    /// <param name="keys">S.</param>
    /// <param name="width">A.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void AdditiveScores<T, TOps>(
        Index1D index, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> scores, int batch, int queries, int keys, int width, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        int n = batch * queries * keys;
        for (int i = index; i < n; i += stride)
        {
            int s = i % keys;
            int bu = i / keys;
            int b = bu / queries;
            long qRow = (long)bu * width, kRow = ((long)b * keys + s) * width;
            T acc = ops.Zero;
            for (int a = 0; a < width; a++)
                acc = ops.MulAdd(v[a], ops.Tanh(ops.Add(q[qRow + a], k[kRow + a])), acc);
            scores[i] = acc;
        }
    }

    /// <summary>
    /// The backward of <see cref="AdditiveScores{T, TOps}"/>, with t = tanh(q[b·U+u, a] + k[b·S+s, a])
    /// recomputed and g = dScores[b,u,s]: dq[b·U+u, a] = v[a]·Σ_s g·(1 − t²),
    /// dk[b·S+s, a] = v[a]·Σ_u g·(1 − t²), dv[a] = Σ_{b,u,s} g·t; all three overwritten. Thread i
    /// computes dq's element i, then dk's, then dv's, so one launch of B·U·A + B·S·A + A threads.
    /// </summary>
    /// <param name="index">Output element, flat over dq, dk, dv.</param>
    /// <param name="q">[B·U, A].</param>
    /// <param name="k">[B·S, A].</param>
    /// <param name="v">[A].</param>
    /// <param name="dScores">[B, U, S].</param>
    /// <param name="dq">[B·U, A] out.</param>
    /// <param name="dk">[B·S, A] out.</param>
    /// <param name="dv">[A] out.</param>
    /// <param name="batch">B.</param>
    /// <param name="queries">U.</param>
    /// <param name="keys">S.</param>
    /// <param name="width">A.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void AdditiveScoresBackward<T, TOps>(
        Index1D index, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> dScores, ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv,
        int batch, int queries, int keys, int width, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        int nq = batch * queries * width, nk = batch * keys * width, n = nq + nk + width;
        for (int i = index; i < n; i += stride)
        {
            if (i < nq)
            {
                int a = i % width, bu = i / width, b = bu / queries;
                T qa = q[i];
                T acc = ops.Zero;
                for (int s = 0; s < keys; s++)
                {
                    T t = ops.Tanh(ops.Add(qa, k[((long)b * keys + s) * width + a]));
                    acc = ops.MulAdd(dScores[(long)bu * keys + s], ops.Sub(ops.One, ops.Mul(t, t)), acc);
                }

                dq[i] = ops.Mul(v[a], acc);
            }
            else if (i < nq + nk)
            {
                int j = i - nq;
                int a = j % width, bs = j / width, b = bs / keys, s = bs % keys;
                T ka = k[j];
                T acc = ops.Zero;
                for (int u = 0; u < queries; u++)
                {
                    long bu = (long)b * queries + u;
                    T t = ops.Tanh(ops.Add(q[bu * width + a], ka));
                    acc = ops.MulAdd(dScores[bu * keys + s], ops.Sub(ops.One, ops.Mul(t, t)), acc);
                }

                dk[j] = ops.Mul(v[a], acc);
            }
            else
            {
                int a = i - nq - nk;
                T acc = ops.Zero;
                for (int bu = 0; bu < batch * queries; bu++)
                {
                    int b = bu / queries;
                    T qa = q[(long)bu * width + a];
                    for (int s = 0; s < keys; s++)
                        acc = ops.MulAdd(dScores[(long)bu * keys + s], ops.Tanh(ops.Add(qa, k[((long)b * keys + s) * width + a])), acc);
                }

                dv[a] = acc;
            }
        }
    }
}

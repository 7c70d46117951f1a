using ILGPU;

namespace Lstm.Kernels;

/// <summary>
/// The connectionist temporal classification loss, <c>torch.nn.functional.ctc_loss</c> with blank 0:
/// each batch row's negative log-likelihood of its target over all alignments, and the gradient, by
/// the alpha (forward) and beta (backward) recursions of Graves et al. in log space. One thread per
/// batch row.
/// </summary>
/// <remarks>
/// <para>
/// Dimension letters: T steps, B batch rows, C classes (class 0 is the blank), S the longest target,
/// W = 2S + 1 the extended target (a blank before, between and after the labels: l'_s is the blank
/// for even s and label s/2 for odd s).
/// </para>
/// <para>
/// The input is log-probabilities (log-softmax outputs, every value ≤ 0). The gradient is the one
/// PyTorch's backward gives for them, (e^lp[t,c] − γ[t,c])·scale_b with γ[t,c] = Σ_{s: l'_s = c}
/// α_t(s) β_t(s) / (p y_t(c)) the occupancy of class c at step t: that is d loss / d logits for
/// log-probabilities formed by a log-softmax over the logits, which is how a network feeds the loss.
/// Steps at or past a row's input length get 0. A row whose target no alignment can produce (too long
/// for its input length, counting a blank between repeated labels) has loss +∞ and a NaN gradient as
/// in PyTorch, or loss and gradient 0 with zero-infinity.
/// </para>
/// <para>
/// The gradient buffer first collects, per step and class, the log of Σ α β over the extended
/// positions of that class, and is then turned into the gradient in place; the workspace holds the
/// alpha table and two rows of beta (the backward recursion only looks one step ahead).
/// </para>
/// </remarks>
internal static class CtcKernels
{
    /// <summary>Flag: the input is [B, T, C] rather than PyTorch's [T, B, C].</summary>
    public const int BatchFirst = 1;

    /// <summary>Flag: each row's gradient is divided by its target length (at least 1), as PyTorch's mean reduction.</summary>
    public const int MeanOverTargetLength = 2;

    /// <summary>Flag: an impossible row's loss and gradient are 0 rather than +∞ and NaN.</summary>
    public const int ZeroInfinity = 4;

    /// <summary>The workspace a call needs: the alpha table and two beta rows per batch row.</summary>
    /// <param name="time">T.</param>
    /// <param name="batch">B.</param>
    /// <param name="maxTarget">S.</param>
    public static long WorkspaceLength(int time, int batch, int maxTarget) => (long)batch * (time + 2) * (2L * maxTarget + 1);

    /// <summary>One batch row's loss and gradient per thread (rows strided by the launch).</summary>
    /// <param name="index">Batch row b.</param>
    /// <param name="logProbs">[T, B, C] (or [B, T, C] with <see cref="BatchFirst"/>) log-probabilities.</param>
    /// <param name="ints">[B] input lengths, then [B] target lengths, then [B, S] targets padded per row (labels in [1, C)).</param>
    /// <param name="work">[B, T + 2, W] workspace.</param>
    /// <param name="grad">Same layout as <paramref name="logProbs"/>, out.</param>
    /// <param name="rowLoss">[B] out: each row's negative log-likelihood (reduction none).</param>
    /// <param name="time">T.</param>
    /// <param name="batch">B.</param>
    /// <param name="classes">C.</param>
    /// <param name="maxTarget">S.</param>
    /// <param name="scale">Every row's gradient scale (1 / B for the mean, 1 for sum and none).</param>
    /// <param name="flags"><see cref="BatchFirst"/>, <see cref="MeanOverTargetLength"/>, <see cref="ZeroInfinity"/>.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void Ctc<T, TOps>(
        Index1D index, ArrayView<T> logProbs, ArrayView<int> ints, ArrayView<T> work, ArrayView<T> grad, ArrayView<T> rowLoss,
        int time, int batch, int classes, int maxTarget, T scale, int flags, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        T negInf = ops.FromDouble(double.NegativeInfinity);
        long timeStride = (flags & BatchFirst) != 0 ? classes : (long)batch * classes;
        long width = 2L * maxTarget + 1;
        for (int b = index; b < batch; b += stride)
        {
            long rowBase = (flags & BatchFirst) != 0 ? (long)b * time * classes : (long)b * classes;
            int inputLength = ints[b];
            int targetLength = ints[batch + b];
            long targetBase = 2L * batch + (long)b * maxTarget;
            long alpha = (long)b * (time + 2) * width;
            long betaRows = alpha + (long)time * width;
            int positions = 2 * targetLength + 1;

            // The gradient starts as the collector of log Σ α β: −∞ on the row's steps, 0 past them.
            for (int t = 0; t < time; t++)
            {
                for (int c = 0; c < classes; c++)
                    grad[rowBase + t * timeStride + c] = t < inputLength ? negInf : ops.Zero;
            }

            T nll;
            if (inputLength == 0)
            {
                nll = targetLength == 0 ? ops.Zero : ops.FromDouble(double.PositiveInfinity);
            }
            else
            {
                // Alpha: step 0 may start at the leading blank or the first label.
                for (int s = 0; s < positions; s++)
                {
                    T a = negInf;
                    if (s < 2)
                        a = logProbs[rowBase + Label(ints, targetBase, s)];
                    work[alpha + s] = a;
                }

                for (int t = 1; t < inputLength; t++)
                {
                    long prev = alpha + (t - 1) * width;
                    long cur = alpha + t * width;
                    long lp = rowBase + t * timeStride;
                    for (int s = 0; s < positions; s++)
                    {
                        int label = Label(ints, targetBase, s);
                        T a1 = work[prev + s];
                        T a2 = s > 0 ? work[prev + s - 1] : negInf;
                        T a3 = s > 1 && label != Label(ints, targetBase, s - 2) ? work[prev + s - 2] : negInf;
                        T sum = LogSumExp3(ops, a1, a2, a3, negInf);
                        work[cur + s] = ops.Greater(sum, negInf) ? ops.Add(sum, logProbs[lp + label]) : negInf;
                    }
                }

                long last = alpha + (inputLength - 1) * width;
                T ll = LogSumExp3(ops, work[last + positions - 1], positions > 1 ? work[last + positions - 2] : negInf, negInf, negInf);
                nll = ops.Neg(ll);
            }

            bool impossible = !ops.Greater(ops.FromDouble(double.PositiveInfinity), nll);
            if (impossible)
            {
                bool zero = (flags & ZeroInfinity) != 0;
                rowLoss[b] = zero ? ops.Zero : nll;
                T fill = zero ? ops.Zero : ops.FromDouble(double.NaN);
                for (int t = 0; t < inputLength; t++)
                {
                    for (int c = 0; c < classes; c++)
                        grad[rowBase + t * timeStride + c] = fill;
                }

                continue;
            }

            rowLoss[b] = nll;
            if (inputLength == 0)
                continue;

            // Beta, from the last step back, two rows alternating; each step's α β collected per class.
            for (int t = inputLength - 1; t >= 0; t--)
            {
                long cur = betaRows + (t & 1) * width;
                long next = betaRows + ((t + 1) & 1) * width;
                long lp = rowBase + t * timeStride;
                for (int s = positions - 1; s >= 0; s--)
                {
                    int label = Label(ints, targetBase, s);
                    T beta;
                    if (t == inputLength - 1)
                    {
                        beta = s >= positions - 2 ? logProbs[lp + label] : negInf;
                    }
                    else
                    {
                        T b1 = work[next + s];
                        T b2 = s < positions - 1 ? work[next + s + 1] : negInf;
                        T b3 = s < positions - 2 && label != Label(ints, targetBase, s + 2) ? work[next + s + 2] : negInf;
                        T sum = LogSumExp3(ops, b1, b2, b3, negInf);
                        beta = ops.Greater(sum, negInf) ? ops.Add(sum, logProbs[lp + label]) : negInf;
                    }

                    work[cur + s] = beta;
                    T a = work[alpha + t * width + s];
                    if (ops.Greater(a, negInf) && ops.Greater(beta, negInf))
                    {
                        long g = lp + label;
                        grad[g] = LogSumExp3(ops, grad[g], ops.Add(a, beta), negInf, negInf);
                    }
                }
            }

            // grad = scale_b·(e^lp − e^(log Σαβ + nll − lp)).
            T rowScale = scale;
            if ((flags & MeanOverTargetLength) != 0)
                rowScale = ops.Div(scale, ops.FromDouble(targetLength > 1 ? targetLength : 1));
            for (int t = 0; t < inputLength; t++)
            {
                long lp = rowBase + t * timeStride;
                for (int c = 0; c < classes; c++)
                {
                    T x = logProbs[lp + c];
                    T collected = grad[lp + c];
                    T occupancy = ops.Greater(collected, negInf) ? ops.ExpNonPositive(ops.Sub(ops.Add(collected, nll), x)) : ops.Zero;
                    grad[lp + c] = ops.Mul(rowScale, ops.Sub(ops.ExpNonPositive(x), occupancy));
                }
            }
        }
    }

    /// <summary>l'_s: the blank (0) for even s, label s/2 for odd s.</summary>
    private static int Label(ArrayView<int> ints, long targetBase, int s) => (s & 1) == 0 ? 0 : ints[targetBase + (s >> 1)];

    /// <summary>log(e^a + e^b + e^c) around the largest, −∞ when all three are −∞.</summary>
    internal static T LogSumExp3<T, TOps>(TOps ops, T a, T b, T c, T negInf)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        T m = a;
        if (ops.Greater(b, m))
            m = b;
        if (ops.Greater(c, m))
            m = c;
        if (!ops.Greater(m, negInf))
            return negInf;
        T sum = ops.Add(ops.Add(ops.ExpNonPositive(ops.Sub(a, m)), ops.ExpNonPositive(ops.Sub(b, m))), ops.ExpNonPositive(ops.Sub(c, m)));
        return ops.Add(m, ops.FromDouble(LossKernels.Log(ops.ToDouble(sum))));
    }
}

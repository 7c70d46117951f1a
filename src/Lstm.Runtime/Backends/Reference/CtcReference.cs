namespace Lstm.Runtime.Backends.Reference;

/// <summary>
/// The reference of the CTC loss kernel (<c>CtcKernels</c>) in float64, PyTorch's
/// <c>F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction, zero_infinity)</c>:
/// full alpha and beta tables in log space (Graves et al.), the occupancy of each class at each step
/// summed from them, and the gradient PyTorch's backward gives for the log-probabilities,
/// e^lp − γ (d loss / d logits when lp = log_softmax(logits)), times the reduction's factor.
/// </summary>
public static class CtcReference
{
    /// <summary>The reduced loss; fills each row's negative log-likelihood and the gradient.</summary>
    /// <param name="time">T.</param>
    /// <param name="batch">B.</param>
    /// <param name="classes">C (0 the blank).</param>
    /// <param name="logProbs">[T, B, C] log-probabilities.</param>
    /// <param name="targets">Each row's labels in [1, C).</param>
    /// <param name="inputLengths">[B] steps of each row.</param>
    /// <param name="reduction">None (the gradient is that of the rows' sum), mean or sum.</param>
    /// <param name="zeroInfinity">An impossible row counts 0 with a 0 gradient rather than +∞ with NaN.</param>
    /// <param name="grad">[T, B, C] out; 0 past a row's input length.</param>
    /// <param name="rowLoss">[B] out.</param>
    /// <returns>The mean of loss_b / max(1, |target_b|) for mean, the sum of the row losses for sum and none.</returns>
    public static double Loss(
        int time, int batch, int classes, ReadOnlySpan<double> logProbs, int[][] targets, int[] inputLengths,
        CtcReduction reduction, bool zeroInfinity, Span<double> grad, Span<double> rowLoss)
    {
        grad.Clear();
        var lp = logProbs.ToArray();
        double total = 0;
        for (int b = 0; b < batch; b++)
        {
            int[] target = targets[b];
            int tIn = inputLengths[b];
            int positions = 2 * target.Length + 1;
            int Ext(int s) => s % 2 == 0 ? 0 : target[s / 2];
            double Lp(int t, int c) => lp[(t * batch + b) * classes + c];
            var alpha = new double[tIn, positions];
            var beta = new double[tIn, positions];
            for (int t = 0; t < tIn; t++)
            {
                for (int s = 0; s < positions; s++)
                {
                    double sum;
                    if (t == 0)
                    {
                        sum = s < 2 ? 0 : double.NegativeInfinity;
                    }
                    else
                    {
                        sum = alpha[t - 1, s];
                        if (s > 0)
                            sum = LogAdd(sum, alpha[t - 1, s - 1]);
                        if (s > 1 && Ext(s) != Ext(s - 2))
                            sum = LogAdd(sum, alpha[t - 1, s - 2]);
                    }

                    alpha[t, s] = sum + Lp(t, Ext(s));
                }
            }

            for (int t = tIn - 1; t >= 0; t--)
            {
                for (int s = positions - 1; s >= 0; s--)
                {
                    double sum;
                    if (t == tIn - 1)
                    {
                        sum = s >= positions - 2 ? 0 : double.NegativeInfinity;
                    }
                    else
                    {
                        sum = beta[t + 1, s];
                        if (s < positions - 1)
                            sum = LogAdd(sum, beta[t + 1, s + 1]);
                        if (s < positions - 2 && Ext(s) != Ext(s + 2))
                            sum = LogAdd(sum, beta[t + 1, s + 2]);
                    }

                    beta[t, s] = sum + Lp(t, Ext(s));
                }
            }

            double nll = tIn == 0
                ? (target.Length == 0 ? 0 : double.PositiveInfinity)
                : -LogAdd(alpha[tIn - 1, positions - 1], positions > 1 ? alpha[tIn - 1, positions - 2] : double.NegativeInfinity);
            double factor = reduction == CtcReduction.Mean ? 1.0 / (batch * Math.Max(1, target.Length)) : 1.0;
            if (double.IsPositiveInfinity(nll))
            {
                rowLoss[b] = zeroInfinity ? 0 : nll;
                for (int t = 0; t < tIn; t++)
                {
                    for (int c = 0; c < classes; c++)
                        grad[(t * batch + b) * classes + c] = zeroInfinity ? 0 : double.NaN;
                }
            }
            else
            {
                rowLoss[b] = nll;
                for (int t = 0; t < tIn; t++)
                {
                    var occupancy = new double[classes];
                    for (int s = 0; s < positions; s++)
                        occupancy[Ext(s)] += Math.Exp(alpha[t, s] + beta[t, s] - Lp(t, Ext(s)) + nll);
                    for (int c = 0; c < classes; c++)
                        grad[(t * batch + b) * classes + c] = factor * (Math.Exp(Lp(t, c)) - occupancy[c]);
                }
            }

            total += reduction == CtcReduction.Mean ? rowLoss[b] * factor : rowLoss[b];
        }

        return total;
    }

    /// <summary>log(e^a + e^b), −∞ when both are.</summary>
    private static double LogAdd(double a, double b)
    {
        double m = Math.Max(a, b);
        return double.IsNegativeInfinity(m) ? m : m + Math.Log(Math.Exp(a - m) + Math.Exp(b - m));
    }
}

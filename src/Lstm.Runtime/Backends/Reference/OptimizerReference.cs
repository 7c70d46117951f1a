namespace Lstm.Runtime.Backends.Reference;

/// <summary>
/// The reference of the optimizer kernels (<c>OptimizerKernels</c>): the updates in float64,
/// straight from PyTorch's documented algorithms.
/// </summary>
public static class OptimizerReference
{
    /// <summary>One <c>torch.optim.SGD</c> update in float64.</summary>
    /// <param name="param">[n] parameter, updated.</param>
    /// <param name="grad">[n] gradient.</param>
    /// <param name="buffer">[n] momentum buffer, updated (ignored when μ = 0).</param>
    /// <param name="lr">lr.</param>
    /// <param name="momentum">μ.</param>
    /// <param name="dampening">Dampening.</param>
    /// <param name="weightDecay">L2 weight decay.</param>
    /// <param name="nesterov">Nesterov momentum.</param>
    /// <param name="firstStep">The buffer's first update.</param>
    public static void SgdStep(
        Span<double> param, ReadOnlySpan<double> grad, Span<double> buffer, double lr, double momentum, double dampening,
        double weightDecay, bool nesterov, bool firstStep)
    {
        for (int i = 0; i < param.Length; i++)
        {
            double g = grad[i] + weightDecay * param[i];
            if (momentum != 0)
            {
                buffer[i] = firstStep ? g : momentum * buffer[i] + (1 - dampening) * g;
                g = nesterov ? g + momentum * buffer[i] : buffer[i];
            }

            param[i] -= lr * g;
        }
    }

    /// <summary>One <c>torch.optim.Adam</c> (or, decoupled, <c>AdamW</c>) update in float64.</summary>
    /// <param name="param">[n] parameter, updated.</param>
    /// <param name="grad">[n] gradient.</param>
    /// <param name="expAvg">[n] m, updated.</param>
    /// <param name="expAvgSq">[n] v, updated.</param>
    /// <param name="step">t, counting this update.</param>
    /// <param name="lr">lr.</param>
    /// <param name="beta1">β1.</param>
    /// <param name="beta2">β2.</param>
    /// <param name="eps">ε.</param>
    /// <param name="weightDecay">Weight decay.</param>
    /// <param name="decoupled">AdamW.</param>
    public static void AdamStep(
        Span<double> param, ReadOnlySpan<double> grad, Span<double> expAvg, Span<double> expAvgSq, long step,
        double lr, double beta1, double beta2, double eps, double weightDecay, bool decoupled)
    {
        double bias1 = 1 - Math.Pow(beta1, step);
        double bias2 = 1 - Math.Pow(beta2, step);
        for (int i = 0; i < param.Length; i++)
        {
            double g = grad[i];
            if (decoupled)
                param[i] *= 1 - lr * weightDecay;
            else
                g += weightDecay * param[i];
            expAvg[i] = beta1 * expAvg[i] + (1 - beta1) * g;
            expAvgSq[i] = beta2 * expAvgSq[i] + (1 - beta2) * g * g;
            double mHat = expAvg[i] / bias1;
            double vHat = expAvgSq[i] / bias2;
            param[i] -= lr * mHat / (Math.Sqrt(vHat) + eps);
        }
    }
}

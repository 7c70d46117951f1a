namespace Lstm.Runtime.Backends.Reference;

/// <summary>The reference of the loss kernels (<c>LossKernels</c>) in float64.</summary>
public static class LossReference
{
    /// <summary>Masked mean cross-entropy in float64 via log-sum-exp; returns the loss and fills d loss / d logits.</summary>
    /// <param name="rows">N.</param>
    /// <param name="classes">C.</param>
    /// <param name="logits">[N, C].</param>
    /// <param name="targets">[N] class indices.</param>
    /// <param name="mask">[N] flags (true counts), or empty for none.</param>
    /// <param name="grad">[N, C] out.</param>
    public static double CrossEntropy(int rows, int classes, ReadOnlySpan<double> logits, ReadOnlySpan<int> targets, ReadOnlySpan<bool> mask, Span<double> grad)
    {
        int count = 0;
        for (int r = 0; r < rows; r++)
            count += mask.IsEmpty || mask[r] ? 1 : 0;
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            var x = logits.Slice(r * classes, classes);
            var g = grad.Slice(r * classes, classes);
            if (!(mask.IsEmpty || mask[r]))
            {
                g.Clear();
                continue;
            }

            var (max, logSum) = SoftmaxReference.ShiftedLogSum(x);
            double logZ = max + logSum;
            total += logZ - x[targets[r]];
            for (int j = 0; j < classes; j++)
                g[j] = (Math.Exp(x[j] - logZ) - (j == targets[r] ? 1 : 0)) / count;
        }

        return count == 0 ? 0 : total / count;
    }

    /// <summary>Masked mean squared error in float64 (rows are the first dimension); returns the loss and fills the gradient.</summary>
    /// <param name="rows">N.</param>
    /// <param name="cols">C.</param>
    /// <param name="prediction">[N, C].</param>
    /// <param name="target">[N, C].</param>
    /// <param name="mask">[N] flags (true counts), or empty for none.</param>
    /// <param name="grad">[N, C] out.</param>
    public static double MeanSquaredError(int rows, int cols, ReadOnlySpan<double> prediction, ReadOnlySpan<double> target, ReadOnlySpan<bool> mask, Span<double> grad)
    {
        int count = 0;
        for (int r = 0; r < rows; r++)
            count += mask.IsEmpty || mask[r] ? 1 : 0;
        double n = (double)count * cols;
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            bool on = mask.IsEmpty || mask[r];
            for (int j = 0; j < cols; j++)
            {
                int e = r * cols + j;
                double d = prediction[e] - target[e];
                total += on ? d * d : 0;
                grad[e] = on ? 2 * d / n : 0;
            }
        }

        return n == 0 ? 0 : total / n;
    }
}

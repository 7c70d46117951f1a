namespace Lstm.Runtime.Backends.Reference;

/// <summary>The reference of the log-softmax kernel (<c>SoftmaxKernels</c>) in float64.</summary>
public static class SoftmaxReference
{
    /// <summary>output[r, j] = x[r, j] − ln Σ_k e^x[r, k], formed as (x − max) − ln Σ e^(x − max).</summary>
    /// <param name="rows">N.</param>
    /// <param name="classes">C.</param>
    /// <param name="input">[N, C].</param>
    /// <param name="output">[N, C] out.</param>
    public static void LogSoftmax(int rows, int classes, ReadOnlySpan<double> input, Span<double> output)
    {
        for (int r = 0; r < rows; r++)
        {
            var x = input.Slice(r * classes, classes);
            var (max, log) = ShiftedLogSum(x);
            for (int j = 0; j < classes; j++)
                output[r * classes + j] = x[j] - max - log;
        }
    }

    /// <summary>
    /// A row's largest value m and ln Σ_k e^(x[k] − m): the shifted log-sum-exp that every float64
    /// reference of a softmax (log-softmax, cross-entropy) forms alike; m + ln Σ is ln Σ_k e^x[k].
    /// </summary>
    /// <param name="x">The row (at least one value).</param>
    public static (double Max, double LogSum) ShiftedLogSum(ReadOnlySpan<double> x)
    {
        double max = double.NegativeInfinity;
        foreach (double v in x)
            max = Math.Max(max, v);
        double sum = 0;
        foreach (double v in x)
            sum += Math.Exp(v - max);
        return (max, Math.Log(sum));
    }
}

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
            double max = double.NegativeInfinity;
            foreach (double v in x)
                max = Math.Max(max, v);
            double sum = 0;
            foreach (double v in x)
                sum += Math.Exp(v - max);
            double log = Math.Log(sum);
            for (int j = 0; j < classes; j++)
                output[r * classes + j] = x[j] - max - log;
        }
    }
}

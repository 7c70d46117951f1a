using ILGPU;

namespace Lstm.Kernels;

/// <summary>
/// The log-softmax of each row, <c>torch.log_softmax(x, dim=-1)</c> over [N, C]: y[r, j] =
/// (x[r, j] − m) − ln Σ_k e^(x[r, k] − m) with m the row's largest value, so no exponent is
/// positive and no row overflows. One thread per row; the sum runs in column order and the
/// logarithm is <see cref="LossKernels.Log"/> in float64, as the cross-entropy kernel forms it.
/// </summary>
/// <remarks>Dimension letters: N rows, C classes (columns).</remarks>
internal static class SoftmaxKernels
{
    /// <summary>Rows strided by the launch.</summary>
    /// <param name="index">Row r.</param>
    /// <param name="input">[N, C].</param>
    /// <param name="output">[N, C] out (may not alias the input).</param>
    /// <param name="rows">N.</param>
    /// <param name="classes">C ≥ 1.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void LogSoftmax<T, TOps>(Index1D index, ArrayView<T> input, ArrayView<T> output, int rows, int classes, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        for (int r = index; r < rows; r += stride)
        {
            long row = (long)r * classes;
            T max = LossKernels.RowMax<T, TOps>(input, row, classes);
            T sum = LossKernels.RowExpSum<T, TOps>(input, row, classes, max);
            T logSum = ops.FromDouble(LossKernels.Log(ops.ToDouble(sum)));
            for (int j = 0; j < classes; j++)
                output[row + j] = ops.Sub(ops.Sub(input[row + j], max), logSum);
        }
    }
}

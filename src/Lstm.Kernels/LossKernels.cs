using ILGPU;

namespace Lstm.Kernels;

/// <summary>
/// Fused losses over rows (one row per sample or per time step), each producing the loss of every
/// row and the gradient in one launch, with an optional per-row mask for padded steps: a masked
/// row (mask 0) contributes neither loss nor gradient. The host adds the row losses in float64
/// and divides by the number of unmasked rows.
/// </summary>
/// <remarks>
/// Dimension letters: N rows, C columns (classes for cross-entropy). One thread per row; kernels
/// loop with the launch's stride as <c>LstmCellKernels</c> explains.
/// </remarks>
internal static class LossKernels
{
    /// <summary>
    /// Masked mean squared error: rowLoss[r] = Σ_j (p[r,j] - y[r,j])², grad = scale·2·(p - y), both 0
    /// on masked rows. With scale = 1 / (unmasked rows · C) the loss is Σ rowLoss · scale.
    /// </summary>
    /// <param name="index">Row r.</param>
    /// <param name="prediction">p: [N, C].</param>
    /// <param name="target">y: [N, C].</param>
    /// <param name="mask">[N] 1 for rows that count, 0 for padding; empty when <paramref name="hasMask"/> is 0.</param>
    /// <param name="grad">[N, C] out: d loss / d p.</param>
    /// <param name="rowLoss">[N] out.</param>
    /// <param name="rows">N.</param>
    /// <param name="cols">C.</param>
    /// <param name="scale">1 / (unmasked rows · C).</param>
    /// <param name="hasMask">1 when a mask is given.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void Mse<T, TOps>(
        Index1D index, ArrayView<T> prediction, ArrayView<T> target, ArrayView<T> mask, ArrayView<T> grad, ArrayView<T> rowLoss,
        int rows, int cols, T scale, int hasMask, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        T twiceScale = ops.Add(scale, scale);
        for (int r = index; r < rows; r += stride)
        {
            long row = (long)r * cols;
            bool on = hasMask == 0 || ops.Greater(mask[r], ops.Zero);
            T acc = ops.Zero;
            for (int j = 0; j < cols; j++)
            {
                T d = ops.Sub(prediction[row + j], target[row + j]);
                acc = ops.MulAdd(d, d, acc);
                grad[row + j] = on ? ops.Mul(twiceScale, d) : ops.Zero;
            }

            rowLoss[r] = on ? acc : ops.Zero;
        }
    }

    /// <summary>
    /// Cross-entropy over logits with integer targets, <c>torch.nn.functional.cross_entropy</c>,
    /// as one numerically stable log-softmax: m = max_j x[r,j], s = Σ_j e^(x[r,j] - m),
    /// rowLoss[r] = (m - x[r,t]) + ln s, grad[r,j] = scale·(e^(x[r,j] - m) / s - [j = t]);
    /// 0 on masked rows. Every exponent is ≤ 0, so no logit overflows.
    /// </summary>
    /// <param name="index">Row r.</param>
    /// <param name="logits">x: [N, C].</param>
    /// <param name="targets">[N] class indices t in [0, C), as exact integers in T.</param>
    /// <param name="mask">[N] 1 for rows that count, 0 for padding; empty when <paramref name="hasMask"/> is 0.</param>
    /// <param name="grad">[N, C] out: d loss / d x.</param>
    /// <param name="rowLoss">[N] out: -log softmax(x[r])[t].</param>
    /// <param name="rows">N.</param>
    /// <param name="classes">C.</param>
    /// <param name="scale">1 / unmasked rows.</param>
    /// <param name="hasMask">1 when a mask is given.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void CrossEntropy<T, TOps>(
        Index1D index, ArrayView<T> logits, ArrayView<T> targets, ArrayView<T> mask, ArrayView<T> grad, ArrayView<T> rowLoss,
        int rows, int classes, T scale, int hasMask, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        for (int r = index; r < rows; r += stride)
        {
            long row = (long)r * classes;
            int t = (int)ops.ToDouble(targets[r]);
            bool on = (hasMask == 0 || ops.Greater(mask[r], ops.Zero)) && t >= 0 && t < classes;
            if (!on)
            {
                for (int j = 0; j < classes; j++)
                    grad[row + j] = ops.Zero;
                rowLoss[r] = ops.Zero;
                continue;
            }

            T max = RowMax<T, TOps>(logits, row, classes);
            T sum = RowExpSum<T, TOps>(logits, row, classes, max);
            T inv = ops.Div(scale, sum);
            for (int j = 0; j < classes; j++)
            {
                T p = ops.Mul(inv, ops.ExpNonPositive(ops.Sub(logits[row + j], max)));
                grad[row + j] = j == t ? ops.Sub(p, scale) : p;
            }

            rowLoss[r] = ops.Add(ops.Sub(max, logits[row + t]), ops.FromDouble(Log(ops.ToDouble(sum))));
        }
    }

    /// <summary>
    /// m = max_j x[row + j] over a row of <paramref name="classes"/> values, the first of equal
    /// values kept: the shift of every log-sum-exp (cross-entropy, log-softmax), so each kernel
    /// forms it alike.
    /// </summary>
    /// <param name="x">The rows.</param>
    /// <param name="row">The row's first element.</param>
    /// <param name="classes">C ≥ 1.</param>
    public static T RowMax<T, TOps>(ArrayView<T> x, long row, int classes)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        T max = x[row];
        for (int j = 1; j < classes; j++)
        {
            if (ops.Greater(x[row + j], max))
                max = x[row + j];
        }

        return max;
    }

    /// <summary>
    /// s = Σ_j e^(x[row + j] − m) in column order, with m from <see cref="RowMax{T, TOps}"/>: every
    /// exponent is ≤ 0, so no row overflows.
    /// </summary>
    /// <param name="x">The rows.</param>
    /// <param name="row">The row's first element.</param>
    /// <param name="classes">C.</param>
    /// <param name="max">m.</param>
    public static T RowExpSum<T, TOps>(ArrayView<T> x, long row, int classes, T max)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        T sum = ops.Zero;
        for (int j = 0; j < classes; j++)
            sum = ops.Add(sum, ops.ExpNonPositive(ops.Sub(x[row + j], max)));
        return sum;
    }

    /// <summary>
    /// ln x for a finite x &gt; 0 in float64 from add, multiply, divide and bit operations only (so
    /// no approximate hardware logarithm is involved): x = 2^e·m with m in [√½, √2),
    /// ln m = 2·atanh((m - 1)/(m + 1)) by its series to the 21st power (error &lt; 2e-17).
    /// </summary>
    /// <param name="x">A finite positive number (normal).</param>
    public static double Log(double x)
    {
        ulong bits = Interop.FloatAsInt(x);
        long e = (long)((bits >> 52) & 0x7FF) - 1023;
        double m = Interop.IntAsFloat((bits & 0xFFFFFFFFFFFFFUL) | 0x3FF0000000000000UL);
        if (m > 1.4142135623730951)
        {
            m *= 0.5;
            e++;
        }

        double f = (m - 1.0) / (m + 1.0);
        double f2 = f * f;
        double p = 1.0 / 21.0;
        p = p * f2 + 1.0 / 19.0;
        p = p * f2 + 1.0 / 17.0;
        p = p * f2 + 1.0 / 15.0;
        p = p * f2 + 1.0 / 13.0;
        p = p * f2 + 1.0 / 11.0;
        p = p * f2 + 1.0 / 9.0;
        p = p * f2 + 1.0 / 7.0;
        p = p * f2 + 1.0 / 5.0;
        p = p * f2 + 1.0 / 3.0;
        p = p * f2 + 1.0;
        return e * 6.93147180369123816490e-01 + (2.0 * f * p + e * 1.90821492927058770002e-10);
    }
}

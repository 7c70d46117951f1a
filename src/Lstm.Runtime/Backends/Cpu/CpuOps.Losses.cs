using System.Numerics;
using System.Runtime.CompilerServices;
using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// The fused, row-masked losses: the semantics of <see cref="LossKernels"/>, row by row. The
/// gradients are element-wise and vectorized; each row's sums (squared error, softmax
/// denominator) accumulate in the kernels' order, one element after the other, so a row loss is
/// the number the kernel computes. Many rows are split across cores.
/// </summary>
internal sealed partial class CpuOps<T>
{
    protected override void MseLossCore(int rows, int cols, BufferSlice<T> prediction, BufferSlice<T> target, BufferSlice<T>? mask, T scale, BufferSlice<T> grad, BufferSlice<T> rowLoss)
    {
        if (rows == 0)
            return;
        if (cols == 0)
        {
            Fill(rowLoss, default);
            return;
        }

        var args = new LossArgs(cols, prediction, target, mask ?? rowLoss, mask.HasValue, scale, grad, rowLoss);
        CpuParallel.For(rows, CpuParallel.Chunks(rows, (long)rows * cols * 4), args, static (a, r0, r1) => MseRows(a, r0, r1));
    }

    protected override void CrossEntropyLossCore(int rows, int classes, BufferSlice<T> logits, BufferSlice<T> targets, BufferSlice<T>? mask, T scale, BufferSlice<T> grad, BufferSlice<T> rowLoss)
    {
        if (rows == 0)
            return;
        var args = new LossArgs(classes, logits, targets, mask ?? rowLoss, mask.HasValue, scale, grad, rowLoss);
        CpuParallel.For(rows, CpuParallel.Chunks(rows, (long)rows * classes * 48), args, static (a, r0, r1) => CrossEntropyRows(a, r0, r1));
    }

    /// <summary>A loss call's operands.</summary>
    /// <param name="Cols">C (columns or classes).</param>
    /// <param name="Input">[N, C] predictions or logits.</param>
    /// <param name="Target">[N, C] targets (MSE) or [N] class indices (cross-entropy).</param>
    /// <param name="Mask">[N]; read only when HasMask.</param>
    /// <param name="HasMask">A mask was given.</param>
    /// <param name="Scale">The gradient's scale.</param>
    /// <param name="Grad">[N, C] out.</param>
    /// <param name="RowLoss">[N] out.</param>
    private readonly record struct LossArgs(
        int Cols, BufferSlice<T> Input, BufferSlice<T> Target, BufferSlice<T> Mask, bool HasMask, T Scale, BufferSlice<T> Grad, BufferSlice<T> RowLoss);

    /// <summary>MSE over rows [r0, r1).</summary>
    private static void MseRows(LossArgs a, int r0, int r1)
    {
        int cols = a.Cols;
        var p = CpuBuffer<T>.Span(a.Input);
        var y = CpuBuffer<T>.Span(a.Target);
        var mask = CpuBuffer<T>.Span(a.Mask);
        var grad = CpuBuffer<T>.Span(a.Grad);
        var loss = CpuBuffer<T>.Span(a.RowLoss);
        T twice = Scalar<T>.Add(a.Scale, a.Scale);
        var vTwice = new Vector<T>(twice);
        int w = Vector<T>.Count;
        for (int r = r0; r < r1; r++)
        {
            var pr = p.Slice(r * cols, cols);
            var yr = y.Slice(r * cols, cols);
            var gr = grad.Slice(r * cols, cols);
            if (a.HasMask && !(Scalar<T>.ToDouble(mask[r]) > 0))
            {
                gr.Clear();
                loss[r] = default;
                continue;
            }

            int j = 0;
            for (; j <= cols - w; j += w)
                (vTwice * (new Vector<T>(pr[j..]) - new Vector<T>(yr[j..]))).CopyTo(gr[j..]);
            for (; j < cols; j++)
                gr[j] = Scalar<T>.Mul(twice, Scalar<T>.Sub(pr[j], yr[j]));

            T acc = default;
            for (j = 0; j < cols; j++)
            {
                T d = Scalar<T>.Sub(pr[j], yr[j]);
                acc = Scalar<T>.Add(Scalar<T>.Mul(d, d), acc);
            }

            loss[r] = acc;
        }
    }

    /// <summary>Cross-entropy over rows [r0, r1).</summary>
    private static void CrossEntropyRows(LossArgs a, int r0, int r1)
    {
        int classes = a.Cols;
        var x = CpuBuffer<T>.Span(a.Input);
        var targets = CpuBuffer<T>.Span(a.Target);
        var mask = CpuBuffer<T>.Span(a.Mask);
        var grad = CpuBuffer<T>.Span(a.Grad);
        var loss = CpuBuffer<T>.Span(a.RowLoss);
        for (int r = r0; r < r1; r++)
        {
            var xr = x.Slice(r * classes, classes);
            var gr = grad.Slice(r * classes, classes);
            int t = (int)Scalar<T>.ToDouble(targets[r]);
            bool on = (!a.HasMask || Scalar<T>.ToDouble(mask[r]) > 0) && t >= 0 && t < classes;
            if (!on)
            {
                gr.Clear();
                loss[r] = default;
                continue;
            }

            // e^(x − max) once, vectorized, into the gradient row; then the denominator in order.
            T max = RowMax(xr);
            T sum = ShiftedExpSum(xr, gr, max);
            T inv = Div(a.Scale, sum);
            Scale(inv, gr);
            gr[t] = Scalar<T>.Sub(gr[t], a.Scale);
            loss[r] = Scalar<T>.Add(Scalar<T>.Sub(max, xr[t]), Scalar<T>.FromDouble(LossKernels.Log(Scalar<T>.ToDouble(sum))));
        }
    }

    /// <summary>A row's largest value, the first of equal values kept, as <see cref="LossKernels.RowMax{T, TOps}"/> finds it.</summary>
    /// <param name="xr">The row (C ≥ 1 values).</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T RowMax(ReadOnlySpan<T> xr)
    {
        T max = xr[0];
        for (int j = 1; j < xr.Length; j++)
        {
            if (Scalar<T>.ToDouble(xr[j]) > Scalar<T>.ToDouble(max))
                max = xr[j];
        }

        return max;
    }

    /// <summary>
    /// e^(x − max) of a row, vectorized, into <paramref name="exp"/>; returns their sum taken in
    /// column order, the number <see cref="LossKernels.RowExpSum{T, TOps}"/> computes. The shared
    /// half of the cross-entropy and the log-softmax.
    /// </summary>
    /// <param name="xr">The row.</param>
    /// <param name="exp">Out: the row's exponentials (as long as the row).</param>
    /// <param name="max">The row's largest value.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T ShiftedExpSum(ReadOnlySpan<T> xr, Span<T> exp, T max)
    {
        int classes = xr.Length;
        int w = Vector<T>.Count;
        var vMax = new Vector<T>(max);
        int k = 0;
        for (; k <= classes - w; k += w)
            ExpNonPositiveOperator.Invoke(new Vector<T>(xr[k..]) - vMax).CopyTo(exp[k..]);
        for (; k < classes; k++)
            exp[k] = ExpNonPositive(Scalar<T>.Sub(xr[k], max));
        T sum = default;
        for (int j = 0; j < classes; j++)
            sum = Scalar<T>.Add(sum, exp[j]);
        return sum;
    }

    /// <summary>The kernels' e^x for x ≤ 0 (scalar, for row tails).</summary>
    private static T ExpNonPositive(T x) => typeof(T) == typeof(float)
        ? (T)(object)default(F32Ops).ExpNonPositive((float)(object)x)
        : (T)(object)default(F64Ops).ExpNonPositive((double)(object)x);
}

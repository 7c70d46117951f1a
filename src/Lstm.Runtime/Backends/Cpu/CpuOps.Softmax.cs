using System.Numerics;
using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// The log-softmax: the semantics and order of <see cref="SoftmaxKernels"/>, row by row: the
/// exponentials vectorized into the output row, their sum in column order, the logarithm of
/// <see cref="LossKernels.Log"/>, so each value is the one the kernel computes. Many rows are
/// split across cores.
/// </summary>
internal sealed partial class CpuOps<T>
{
    protected override void LogSoftmaxCore(int rows, int classes, BufferSlice<T> input, BufferSlice<T> output)
    {
        var args = new LossArgs(classes, input, input, input, false, default, output, output);
        CpuParallel.For(rows, CpuParallel.Chunks(rows, (long)rows * classes * 32), args, static (a, r0, r1) => LogSoftmaxRows(a, r0, r1));
    }

    /// <summary>Log-softmax of rows [r0, r1): Input → Grad (the output).</summary>
    private static void LogSoftmaxRows(LossArgs a, int r0, int r1)
    {
        int classes = a.Cols;
        var x = CpuBuffer<T>.Span(a.Input);
        var y = CpuBuffer<T>.Span(a.Grad);
        int w = Vector<T>.Count;
        for (int r = r0; r < r1; r++)
        {
            var xr = x.Slice(r * classes, classes);
            var yr = y.Slice(r * classes, classes);
            T max = RowMax(xr);
            T sum = ShiftedExpSum(xr, yr, max);
            T logSum = Scalar<T>.FromDouble(LossKernels.Log(Scalar<T>.ToDouble(sum)));
            int k = 0;
            var vMax = new Vector<T>(max);
            var vLog = new Vector<T>(logSum);
            for (; k <= classes - w; k += w)
                (new Vector<T>(xr[k..]) - vMax - vLog).CopyTo(yr[k..]);
            for (; k < classes; k++)
                yr[k] = Scalar<T>.Sub(Scalar<T>.Sub(xr[k], max), logSum);
        }
    }
}

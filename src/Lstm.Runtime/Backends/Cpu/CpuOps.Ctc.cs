using System.Runtime.InteropServices;
using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// The CTC loss: the semantics and the operation order of <see cref="CtcKernels"/>, one batch row
/// after the other (rows split across cores when the work is large), so a row's loss and gradient
/// are the numbers the kernel computes.
/// </summary>
internal sealed partial class CpuOps<T>
{
    protected override void CtcLossCore(
        int time, int batch, int classes, BufferSlice<T> logProbs, ReadOnlySpan<int> targets, int maxTargetLength,
        ReadOnlySpan<int> inputLengths, ReadOnlySpan<int> targetLengths, T scale, CtcFlags flags, BufferSlice<T> grad, BufferSlice<T> rowLoss)
    {
        var ints = PackCtcIntegers(targets, inputLengths, targetLengths);
        long workLength = CtcKernels.WorkspaceLength(time, batch, maxTargetLength);
        if (workLength > int.MaxValue)
            throw new LstmException($"CTC loss: a workspace of {workLength} elements (T {time}, B {batch}, S {maxTargetLength}) is too large for the cpu device");
        var work = CpuArrayPool<T>.Rent(Math.Max(1, (int)workLength), zeroed: false);
        try
        {
            var args = new CtcArgs(time, batch, classes, maxTargetLength, logProbs, ints, work, grad, rowLoss, scale, (int)flags);
            long perRow = (long)time * (2L * maxTargetLength + 1) * 64 + (long)time * classes * 16;
            CpuParallel.For(batch, CpuParallel.Chunks(batch, perRow * batch), args, static (a, b0, b1) =>
            {
                if (typeof(T) == typeof(float))
                    CtcRows<float, F32Ops>(a, b0, b1);
                else
                    CtcRows<double, F64Ops>(a, b0, b1);
            });
        }
        finally
        {
            CpuArrayPool<T>.Return(work);
        }
    }

    /// <summary>A CTC call's operands.</summary>
    /// <param name="Time">T.</param>
    /// <param name="Batch">B.</param>
    /// <param name="Classes">C.</param>
    /// <param name="MaxTarget">S.</param>
    /// <param name="LogProbs">[T, B, C] or [B, T, C].</param>
    /// <param name="Ints">Input lengths, target lengths, targets.</param>
    /// <param name="Work">[B, T + 2, 2S + 1] workspace.</param>
    /// <param name="Grad">Out.</param>
    /// <param name="RowLoss">[B] out.</param>
    /// <param name="Scale">The gradient's scale.</param>
    /// <param name="Flags">The kernel's flags.</param>
    private readonly record struct CtcArgs(
        int Time, int Batch, int Classes, int MaxTarget, BufferSlice<T> LogProbs, int[] Ints, T[] Work, BufferSlice<T> Grad, BufferSlice<T> RowLoss, T Scale, int Flags);

    /// <summary>Batch rows [b0, b1) of <see cref="CtcKernels.Ctc{T, TOps}"/>, step for step.</summary>
    private static void CtcRows<TE, TOps>(CtcArgs a, int b0, int b1)
        where TE : unmanaged
        where TOps : struct, INumOps<TE>
    {
        var ops = default(TOps);
        var logProbs = MemoryMarshal.Cast<T, TE>(CpuBuffer<T>.Span(a.LogProbs));
        var grad = MemoryMarshal.Cast<T, TE>(CpuBuffer<T>.Span(a.Grad));
        var rowLoss = MemoryMarshal.Cast<T, TE>(CpuBuffer<T>.Span(a.RowLoss));
        var work = MemoryMarshal.Cast<T, TE>(a.Work.AsSpan());
        var ints = a.Ints;
        int time = a.Time;
        int batch = a.Batch;
        int classes = a.Classes;
        int flags = a.Flags;
        TE scale = (TE)(object)a.Scale;
        TE negInf = ops.FromDouble(double.NegativeInfinity);
        long timeStride = (flags & CtcKernels.BatchFirst) != 0 ? classes : (long)batch * classes;
        int width = 2 * a.MaxTarget + 1;
        for (int b = b0; b < b1; b++)
        {
            int rowBase = (int)((flags & CtcKernels.BatchFirst) != 0 ? (long)b * time * classes : (long)b * classes);
            int inputLength = ints[b];
            int targetLength = ints[batch + b];
            var labels = ints.AsSpan(2 * batch + b * a.MaxTarget, targetLength);
            int alpha = b * (time + 2) * width;
            int betaRows = alpha + time * width;
            int positions = 2 * targetLength + 1;
            for (int t = 0; t < time; t++)
                grad.Slice((int)(rowBase + t * timeStride), classes).Fill(t < inputLength ? negInf : ops.Zero);

            TE nll;
            if (inputLength == 0)
            {
                nll = targetLength == 0 ? ops.Zero : ops.FromDouble(double.PositiveInfinity);
            }
            else
            {
                for (int s = 0; s < positions; s++)
                    work[alpha + s] = s < 2 ? logProbs[rowBase + Label(labels, s)] : negInf;
                for (int t = 1; t < inputLength; t++)
                {
                    int prev = alpha + (t - 1) * width;
                    int cur = alpha + t * width;
                    int lp = (int)(rowBase + t * timeStride);
                    for (int s = 0; s < positions; s++)
                    {
                        int label = Label(labels, s);
                        TE a1 = work[prev + s];
                        TE a2 = s > 0 ? work[prev + s - 1] : negInf;
                        TE a3 = s > 1 && label != Label(labels, s - 2) ? work[prev + s - 2] : negInf;
                        TE sum = CtcKernels.LogSumExp3(ops, a1, a2, a3, negInf);
                        work[cur + s] = ops.Greater(sum, negInf) ? ops.Add(sum, logProbs[lp + label]) : negInf;
                    }
                }

                int last = alpha + (inputLength - 1) * width;
                TE ll = CtcKernels.LogSumExp3(ops, work[last + positions - 1], positions > 1 ? work[last + positions - 2] : negInf, negInf, negInf);
                nll = ops.Neg(ll);
            }

            if (!ops.Greater(ops.FromDouble(double.PositiveInfinity), nll))
            {
                bool zero = (flags & CtcKernels.ZeroInfinity) != 0;
                rowLoss[b] = zero ? ops.Zero : nll;
                TE fill = zero ? ops.Zero : ops.FromDouble(double.NaN);
                for (int t = 0; t < inputLength; t++)
                    grad.Slice((int)(rowBase + t * timeStride), classes).Fill(fill);
                continue;
            }

            rowLoss[b] = nll;
            if (inputLength == 0)
                continue;

            for (int t = inputLength - 1; t >= 0; t--)
            {
                int cur = betaRows + (t & 1) * width;
                int next = betaRows + ((t + 1) & 1) * width;
                int lp = (int)(rowBase + t * timeStride);
                for (int s = positions - 1; s >= 0; s--)
                {
                    int label = Label(labels, s);
                    TE beta;
                    if (t == inputLength - 1)
                    {
                        beta = s >= positions - 2 ? logProbs[lp + label] : negInf;
                    }
                    else
                    {
                        TE c1 = work[next + s];
                        TE c2 = s < positions - 1 ? work[next + s + 1] : negInf;
                        TE c3 = s < positions - 2 && label != Label(labels, s + 2) ? work[next + s + 2] : negInf;
                        TE sum = CtcKernels.LogSumExp3(ops, c1, c2, c3, negInf);
                        beta = ops.Greater(sum, negInf) ? ops.Add(sum, logProbs[lp + label]) : negInf;
                    }

                    work[cur + s] = beta;
                    TE al = work[alpha + t * width + s];
                    if (ops.Greater(al, negInf) && ops.Greater(beta, negInf))
                        grad[lp + label] = CtcKernels.LogSumExp3(ops, grad[lp + label], ops.Add(al, beta), negInf, negInf);
                }
            }

            TE rowScale = scale;
            if ((flags & CtcKernels.MeanOverTargetLength) != 0)
                rowScale = ops.Div(scale, ops.FromDouble(targetLength > 1 ? targetLength : 1));
            for (int t = 0; t < inputLength; t++)
            {
                int lp = (int)(rowBase + t * timeStride);
                for (int c = 0; c < classes; c++)
                {
                    TE x = logProbs[lp + c];
                    TE collected = grad[lp + c];
                    TE occupancy = ops.Greater(collected, negInf) ? ops.ExpNonPositive(ops.Sub(ops.Add(collected, nll), x)) : ops.Zero;
                    grad[lp + c] = ops.Mul(rowScale, ops.Sub(ops.ExpNonPositive(x), occupancy));
                }
            }
        }
    }

    /// <summary>l'_s: the blank for even s, label s/2 for odd s.</summary>
    private static int Label(ReadOnlySpan<int> labels, int s) => (s & 1) == 0 ? 0 : labels[s >> 1];
}

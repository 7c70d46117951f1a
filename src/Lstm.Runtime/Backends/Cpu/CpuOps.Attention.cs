using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// The attention operations: the semantics of <see cref="AttentionKernels"/>, each output's sum
/// in the kernels' order (in float64, rounded once to T). Rows, or scores, are split across cores.
/// </summary>
internal sealed partial class CpuOps<T>
{
    protected override void TanhCore(BufferSlice<T> x, BufferSlice<T> y)
    {
        var xs = CpuBuffer<T>.ReadOnly(x);
        var ys = CpuBuffer<T>.Span(y);
        for (int i = 0; i < ys.Length; i++)
            ys[i] = Scalar<T>.FromDouble(TanhOperator.Invoke(Scalar<T>.ToDouble(xs[i])));
    }

    protected override void TanhBackwardCore(BufferSlice<T> y, BufferSlice<T> dy, BufferSlice<T> dx)
    {
        var ys = CpuBuffer<T>.ReadOnly(y);
        var dys = CpuBuffer<T>.ReadOnly(dy);
        var dxs = CpuBuffer<T>.Span(dx);
        for (int i = 0; i < dxs.Length; i++)
        {
            double yi = Scalar<T>.ToDouble(ys[i]);
            dxs[i] = Scalar<T>.FromDouble(Scalar<T>.ToDouble(dys[i]) * (1 - yi * yi));
        }
    }

    protected override void MaskedSoftmaxCore(int rows, int cols, BufferSlice<T> x, BufferSlice<T> lengths, BufferSlice<T> y)
    {
        var args = new RowArgs(cols, x, lengths, y);
        CpuParallel.For(rows, CpuParallel.Chunks(rows, (long)rows * cols * 16), args, static (a, r0, r1) => SoftmaxRows(a, r0, r1));
    }

    protected override void SoftmaxBackwardCore(int rows, int cols, BufferSlice<T> y, BufferSlice<T> dy, BufferSlice<T> dx)
    {
        var args = new RowArgs(cols, y, dy, dx);
        CpuParallel.For(rows, CpuParallel.Chunks(rows, (long)rows * cols * 4), args, static (a, r0, r1) => SoftmaxBackwardRows(a, r0, r1));
    }

    protected override void MaskRowsCore(int cols, BufferSlice<T> mask, BufferSlice<T> y)
    {
        var m = CpuBuffer<T>.ReadOnly(mask);
        var ys = CpuBuffer<T>.Span(y);
        int rows = (int)(y.Length / cols);
        for (int r = 0; r < rows; r++)
        {
            if (!(Scalar<T>.ToDouble(m[r]) > 0))
                ys.Slice(r * cols, cols).Clear();
        }
    }

    protected override void AdditiveScoresCore(int batch, int queries, int keys, int width, BufferSlice<T> q, BufferSlice<T> k, BufferSlice<T> v, BufferSlice<T> scores)
    {
        var args = new AdditiveArgs(batch, queries, keys, width, q, k, v, scores, default, default, default);
        int n = batch * queries * keys;
        CpuParallel.For(n, CpuParallel.Chunks(n, (long)n * width * 24), args, static (a, i0, i1) => AdditiveScoreRange(a, i0, i1));
    }

    protected override void AdditiveScoresBackwardCore(
        int batch, int queries, int keys, int width, BufferSlice<T> q, BufferSlice<T> k, BufferSlice<T> v, BufferSlice<T> dScores,
        BufferSlice<T> dq, BufferSlice<T> dk, BufferSlice<T> dv)
    {
        var args = new AdditiveArgs(batch, queries, keys, width, q, k, v, dScores, dq, dk, dv);
        int n = batch * (queries + keys) * width + width;
        CpuParallel.For(n, CpuParallel.Chunks(n, (long)batch * queries * keys * width * 3 * 24), args, static (a, i0, i1) => AdditiveBackwardRange(a, i0, i1));
    }

    /// <summary>A row-wise call's operands.</summary>
    /// <param name="Cols">C.</param>
    /// <param name="A">x (softmax) or y (backward).</param>
    /// <param name="B">lengths (softmax) or dy (backward).</param>
    /// <param name="Out">y (softmax) or dx (backward).</param>
    private readonly record struct RowArgs(int Cols, BufferSlice<T> A, BufferSlice<T> B, BufferSlice<T> Out);

    /// <summary>An additive-score call's operands (forward: Scores is the output; backward: the incoming gradient).</summary>
    private readonly record struct AdditiveArgs(
        int Batch, int Queries, int Keys, int Width, BufferSlice<T> Q, BufferSlice<T> K, BufferSlice<T> V, BufferSlice<T> Scores,
        BufferSlice<T> DQ, BufferSlice<T> DK, BufferSlice<T> DV);

    private static void SoftmaxRows(RowArgs a, int r0, int r1)
    {
        int cols = a.Cols;
        var x = CpuBuffer<T>.ReadOnly(a.A);
        var lengths = CpuBuffer<T>.ReadOnly(a.B);
        var y = CpuBuffer<T>.Span(a.Out);
        for (int r = r0; r < r1; r++)
        {
            int row = r * cols;
            int len = (int)Math.Clamp(Scalar<T>.ToDouble(lengths[r]), 0, cols);
            double max = len > 0 ? Scalar<T>.ToDouble(x[row]) : 0;
            for (int j = 1; j < len; j++)
                max = Math.Max(max, Scalar<T>.ToDouble(x[row + j]));
            double sum = 0;
            for (int j = 0; j < len; j++)
                sum += ExpNonPositiveOperator.Invoke(Scalar<T>.ToDouble(x[row + j]) - max);
            double inv = len > 0 ? 1 / sum : 0;
            for (int j = 0; j < cols; j++)
                y[row + j] = j < len ? Scalar<T>.FromDouble(ExpNonPositiveOperator.Invoke(Scalar<T>.ToDouble(x[row + j]) - max) * inv) : default;
        }
    }

    private static void SoftmaxBackwardRows(RowArgs a, int r0, int r1)
    {
        int cols = a.Cols;
        var y = CpuBuffer<T>.ReadOnly(a.A);
        var dy = CpuBuffer<T>.ReadOnly(a.B);
        var dx = CpuBuffer<T>.Span(a.Out);
        for (int r = r0; r < r1; r++)
        {
            int row = r * cols;
            double dot = 0;
            for (int j = 0; j < cols; j++)
                dot += Scalar<T>.ToDouble(y[row + j]) * Scalar<T>.ToDouble(dy[row + j]);
            for (int j = 0; j < cols; j++)
                dx[row + j] = Scalar<T>.FromDouble(Scalar<T>.ToDouble(y[row + j]) * (Scalar<T>.ToDouble(dy[row + j]) - dot));
        }
    }

    private static void AdditiveScoreRange(AdditiveArgs a, int i0, int i1)
    {
        var q = CpuBuffer<T>.ReadOnly(a.Q);
        var k = CpuBuffer<T>.ReadOnly(a.K);
        var v = CpuBuffer<T>.ReadOnly(a.V);
        var scores = CpuBuffer<T>.Span(a.Scores);
        int width = a.Width;
        for (int i = i0; i < i1; i++)
        {
            int s = i % a.Keys, bu = i / a.Keys, b = bu / a.Queries;
            int qRow = bu * width, kRow = (b * a.Keys + s) * width;
            double acc = 0;
            for (int x = 0; x < width; x++)
                acc += Scalar<T>.ToDouble(v[x]) * TanhOperator.Invoke(Scalar<T>.ToDouble(q[qRow + x]) + Scalar<T>.ToDouble(k[kRow + x]));
            scores[i] = Scalar<T>.FromDouble(acc);
        }
    }

    private static void AdditiveBackwardRange(AdditiveArgs a, int i0, int i1)
    {
        var q = CpuBuffer<T>.ReadOnly(a.Q);
        var k = CpuBuffer<T>.ReadOnly(a.K);
        var v = CpuBuffer<T>.ReadOnly(a.V);
        var g = CpuBuffer<T>.ReadOnly(a.Scores);
        var dq = CpuBuffer<T>.Span(a.DQ);
        var dk = CpuBuffer<T>.Span(a.DK);
        var dv = CpuBuffer<T>.Span(a.DV);
        int width = a.Width, keys = a.Keys, queries = a.Queries;
        int nq = a.Batch * queries * width, nk = a.Batch * keys * width;
        for (int i = i0; i < i1; i++)
        {
            double acc = 0;
            if (i < nq)
            {
                int x = i % width, bu = i / width, b = bu / queries;
                double qx = Scalar<T>.ToDouble(q[i]);
                for (int s = 0; s < keys; s++)
                {
                    double t = TanhOperator.Invoke(qx + Scalar<T>.ToDouble(k[(b * keys + s) * width + x]));
                    acc += Scalar<T>.ToDouble(g[bu * keys + s]) * (1 - t * t);
                }

                dq[i] = Scalar<T>.FromDouble(Scalar<T>.ToDouble(v[x]) * acc);
            }
            else if (i < nq + nk)
            {
                int j = i - nq, x = j % width, bs = j / width, b = bs / keys, s = bs % keys;
                double kx = Scalar<T>.ToDouble(k[j]);
                for (int u = 0; u < queries; u++)
                {
                    int bu = b * queries + u;
                    double t = TanhOperator.Invoke(Scalar<T>.ToDouble(q[bu * width + x]) + kx);
                    acc += Scalar<T>.ToDouble(g[bu * keys + s]) * (1 - t * t);
                }

                dk[j] = Scalar<T>.FromDouble(Scalar<T>.ToDouble(v[x]) * acc);
            }
            else
            {
                int x = i - nq - nk;
                for (int bu = 0; bu < a.Batch * queries; bu++)
                {
                    int b = bu / queries;
                    double qx = Scalar<T>.ToDouble(q[bu * width + x]);
                    for (int s = 0; s < keys; s++)
                        acc += Scalar<T>.ToDouble(g[bu * keys + s]) * TanhOperator.Invoke(qx + Scalar<T>.ToDouble(k[(b * keys + s) * width + x]));
                }

                dv[x] = Scalar<T>.FromDouble(acc);
            }
        }
    }
}

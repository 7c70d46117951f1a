using Lstm.Kernels;
using System.Runtime.CompilerServices;
using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// The attention operations: the semantics of <see cref="AttentionKernels"/>, each output's sum
/// in float64 (with <see cref="Math.Tanh"/> and <see cref="Math.Exp"/>, several times faster here than
/// the kernels' operators in float64), rounded once to T. Rows, scores or batch rows are split across cores; the additive
/// score's backward computes each tanh once and scatters its terms (the kernel gathers them).
/// </summary>
internal sealed partial class CpuOps<T>
{
    /// <summary>The products one after the other, each by the cpu GEMM (which splits a large one across cores).</summary>
    protected override void BatchedGemmCore(int batch, GemmShape shape, long strideA, long strideB, long strideC, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c)
    {
        long aLength = shape.K == 0 ? 0 : shape.TransA != 0 ? (long)(shape.K - 1) * shape.Lda + shape.M : (long)(shape.M - 1) * shape.Lda + shape.K;
        long bLength = shape.K == 0 ? 0 : shape.TransB != 0 ? (long)(shape.N - 1) * shape.Ldb + shape.K : (long)(shape.K - 1) * shape.Ldb + shape.N;
        long cLength = (long)(shape.M - 1) * shape.Ldc + shape.N;
        for (int i = 0; i < batch; i++)
            GemmCore(shape, alpha, aLength == 0 ? a.Slice(0, 0) : a.Slice(i * strideA, aLength), bLength == 0 ? b.Slice(0, 0) : b.Slice(i * strideB, bLength), beta, c.Slice(i * strideC, cLength));
    }

    protected override void TanhCore(BufferSlice<T> x, BufferSlice<T> y)
    {
        var xs = CpuBuffer<T>.ReadOnly(x);
        var ys = CpuBuffer<T>.Span(y);
        for (int i = 0; i < ys.Length; i++)
            ys[i] = Scalar<T>.FromDouble(Math.Tanh(Scalar<T>.ToDouble(xs[i])));
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
        // Batch row by batch row, each tanh computed once and its terms scattered into dq, dk and
        // that row's part of dv; the parts are added in row order at the end.
        var partial = new double[(long)batch * width];
        var args = new AdditiveBackwardArgs(new AdditiveArgs(batch, queries, keys, width, q, k, v, dScores, dq, dk, dv), partial);
        CpuParallel.For(batch, CpuParallel.Chunks(batch, (long)batch * queries * keys * width * 24), args, static (a, b0, b1) => AdditiveBackwardRows(a, b0, b1));
        var dvs = CpuBuffer<T>.Span(dv);
        for (int x = 0; x < width; x++)
        {
            double acc = 0;
            for (int b = 0; b < batch; b++)
                acc += partial[(long)b * width + x];
            dvs[x] = Scalar<T>.FromDouble(acc);
        }
    }

    /// <summary>A row-wise call's operands.</summary>
    /// <param name="Cols">C.</param>
    /// <param name="A">x (softmax) or y (backward).</param>
    /// <param name="B">lengths (softmax) or dy (backward).</param>
    /// <param name="Out">y (softmax) or dx (backward).</param>
    private readonly record struct RowArgs(int Cols, BufferSlice<T> A, BufferSlice<T> B, BufferSlice<T> Out);

    /// <summary>An additive-score backward's operands and each batch row's part of dv [B, A].</summary>
    private readonly record struct AdditiveBackwardArgs(AdditiveArgs Args, double[] Partial);

    /// <summary>An additive-score call's operands (forward: Scores is the output; backward: the incoming gradient).</summary>
    private readonly record struct AdditiveArgs(
        int Batch, int Queries, int Keys, int Width, BufferSlice<T> Q, BufferSlice<T> K, BufferSlice<T> V, BufferSlice<T> Scores,
        BufferSlice<T> DQ, BufferSlice<T> DK, BufferSlice<T> DV);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
                sum += Math.Exp(Scalar<T>.ToDouble(x[row + j]) - max);
            double inv = len > 0 ? 1 / sum : 0;
            for (int j = 0; j < cols; j++)
                y[row + j] = j < len ? Scalar<T>.FromDouble(Math.Exp(Scalar<T>.ToDouble(x[row + j]) - max) * inv) : default;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
                acc += Scalar<T>.ToDouble(v[x]) * Math.Tanh(Scalar<T>.ToDouble(q[qRow + x]) + Scalar<T>.ToDouble(k[kRow + x]));
            scores[i] = Scalar<T>.FromDouble(acc);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AdditiveBackwardRows(AdditiveBackwardArgs args, int b0, int b1)
    {
        var a = args.Args;
        var q = CpuBuffer<T>.ReadOnly(a.Q);
        var k = CpuBuffer<T>.ReadOnly(a.K);
        var v = CpuBuffer<T>.ReadOnly(a.V);
        var g = CpuBuffer<T>.ReadOnly(a.Scores);
        var dq = CpuBuffer<T>.Span(a.DQ);
        var dk = CpuBuffer<T>.Span(a.DK);
        int width = a.Width, keys = a.Keys, queries = a.Queries;
        var vd = new double[width];
        for (int x = 0; x < width; x++)
            vd[x] = Scalar<T>.ToDouble(v[x]);
        var dqRow = new double[width];
        var dkRows = new double[keys * width];
        var qRow = new double[width];
        for (int b = b0; b < b1; b++)
        {
            Array.Clear(dkRows);
            var dvPart = args.Partial.AsSpan(b * width, width);
            for (int u = 0; u < queries; u++)
            {
                int bu = b * queries + u;
                Array.Clear(dqRow);
                for (int x = 0; x < width; x++)
                    qRow[x] = Scalar<T>.ToDouble(q[bu * width + x]);
                for (int s = 0; s < keys; s++)
                {
                    double gs = Scalar<T>.ToDouble(g[bu * keys + s]);
                    int kRow = (b * keys + s) * width;
                    for (int x = 0; x < width; x++)
                    {
                        double t = Math.Tanh(qRow[x] + Scalar<T>.ToDouble(k[kRow + x]));
                        double d = gs * vd[x] * (1 - t * t);
                        dqRow[x] += d;
                        dkRows[s * width + x] += d;
                        dvPart[x] += gs * t;
                    }
                }

                for (int x = 0; x < width; x++)
                    dq[bu * width + x] = Scalar<T>.FromDouble(dqRow[x]);
            }

            for (int i = 0; i < keys * width; i++)
                dk[b * keys * width + i] = Scalar<T>.FromDouble(dkRows[i]);
        }
    }
}

using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>Reductions, layout changes and element-wise operations: vector loops with a scalar tail.</summary>
internal sealed partial class CpuOps<T>
{
    protected override void SumRowsCore(int rows, int cols, BufferSlice<T> source, T beta, BufferSlice<T> destination)
    {
        if (cols == 0)
            return;
        var dst = CpuBuffer<T>.Span(destination)[..cols];
        // dst = β·dst, then the rows are added in order, each as one vector pass over dst; the
        // cores split the columns (blocks of SumRowsBlock), so every element is summed in the same
        // order whatever the split.
        if (Scalar<T>.ToDouble(beta) == 0)
            dst.Clear();
        else if (Scalar<T>.ToDouble(beta) != 1)
            Scale(beta, dst);
        var job = Interlocked.Exchange(ref _sumRowsJob, null) ?? new SumRowsJob();
        try
        {
            (job.Source, job.SourceOffset) = CpuBuffer<T>.ReadOnlyArrayAt(source);
            (job.Destination, job.DestinationOffset) = CpuBuffer<T>.ArrayAt(destination);
            job.Rows = rows;
            job.Cols = cols;
            int blocks = (cols + SumRowsBlock - 1) / SumRowsBlock;
            CpuParallel.For(blocks, CpuParallel.Chunks(blocks, (long)rows * cols), job, SumRowsColumns);
        }
        finally
        {
            job.Source = job.Destination = [];
            Volatile.Write(ref _sumRowsJob, job);
        }
    }

    /// <summary>Columns of one work item of <see cref="SumRowsCore"/>.</summary>
    private const int SumRowsBlock = 64;

    /// <summary>The cached operands of <see cref="SumRowsCore"/>; null while a call holds them (a concurrent call makes its own).</summary>
    private SumRowsJob? _sumRowsJob = new();

    /// <summary>The operands of <see cref="SumRowsCore"/>: source [rows, cols] at an offset, destination [cols] at an offset.</summary>
    private sealed class SumRowsJob
    {
        public T[] Source = [];
        public int SourceOffset;
        public T[] Destination = [];
        public int DestinationOffset;
        public int Rows;
        public int Cols;
    }

    /// <summary>destination[c] += Σ_r source[r, c] over the column blocks [start, end), rows in order.</summary>
    private static readonly Action<SumRowsJob, int, int> SumRowsColumns = SumColumns;

    /// <inheritdoc cref="SumRowsColumns"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SumColumns(SumRowsJob job, int start, int end)
    {
        int c0 = start * SumRowsBlock;
        int len = Math.Min(end * SumRowsBlock, job.Cols) - c0;
        var dst = job.Destination.AsSpan(job.DestinationOffset + c0, len);
        for (int r = 0; r < job.Rows; r++)
            AddInPlace(job.Source.AsSpan(job.SourceOffset + r * job.Cols + c0, len), dst);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void SwapAxes01Core(int d0, int d1, int d2, BufferSlice<T> source, BufferSlice<T> destination)
    {
        long n = (long)d0 * d1 * d2;
        if (n == 0)
            return;
        var src = CpuBuffer<T>.Span(source);
        var dst = CpuBuffer<T>.Span(destination);
        for (int i1 = 0; i1 < d1; i1++)
        {
            for (int i0 = 0; i0 < d0; i0++)
                src.Slice((i0 * d1 + i1) * d2, d2).CopyTo(dst.Slice((i1 * d0 + i0) * d2, d2));
        }
    }

    protected override void AddRowBiasCore(int cols, BufferSlice<T> y, BufferSlice<T> bias)
    {
        if (y.Length == 0)
            return;
        var ys = CpuBuffer<T>.Span(y);
        var b = CpuBuffer<T>.Span(bias)[..cols];
        for (int start = 0; start < ys.Length; start += cols)
        {
            int len = Math.Min(cols, ys.Length - start);
            AddInPlace(b[..len], ys.Slice(start, len));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void AxpyCore(T alpha, BufferSlice<T> x, BufferSlice<T> y)
    {
        var xs = CpuBuffer<T>.Span(x)[..(int)y.Length];
        var ys = CpuBuffer<T>.Span(y);
        var va = new Vector<T>(alpha);
        int w = Vector<T>.Count;
        int i = 0;
        for (; i <= ys.Length - w; i += w)
            (va * new Vector<T>(xs[i..]) + new Vector<T>(ys[i..])).CopyTo(ys[i..]);
        for (; i < ys.Length; i++)
            ys[i] = Scalar<T>.Add(Scalar<T>.Mul(alpha, xs[i]), ys[i]);
    }

    /// <summary>dst += src, element by element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddInPlace(ReadOnlySpan<T> src, Span<T> dst)
    {
        var vs = MemoryMarshal.Cast<T, Vector<T>>(src);
        var vd = MemoryMarshal.Cast<T, Vector<T>>(dst);
        for (int v = 0; v < vd.Length; v++)
            vd[v] += vs[v];
        for (int i = vd.Length * Vector<T>.Count; i < dst.Length; i++)
            dst[i] = Scalar<T>.Add(dst[i], src[i]);
    }

    /// <summary>dst *= s, element by element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scale(T s, Span<T> dst)
    {
        var vd = MemoryMarshal.Cast<T, Vector<T>>(dst);
        var vs = new Vector<T>(s);
        for (int v = 0; v < vd.Length; v++)
            vd[v] *= vs;
        for (int i = vd.Length * Vector<T>.Count; i < dst.Length; i++)
            dst[i] = Scalar<T>.Mul(s, dst[i]);
    }
}

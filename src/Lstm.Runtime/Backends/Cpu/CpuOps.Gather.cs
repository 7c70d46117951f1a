using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// Row gathers and the embedding lookups: the semantics of <see cref="GatherKernels"/> and
/// <see cref="EmbeddingKernels"/>, one contiguous row copy (or vector add) at a time.
/// </summary>
internal sealed partial class CpuOps<T>
{
    protected override void GatherRowsCore(int cols, ReadOnlySpan<int> rowIndex, BufferSlice<T> source, BufferSlice<T> destination)
    {
        long count = (long)rowIndex.Length * cols;
        if (count == 0)
            return;
        var src = CpuBuffer<T>.Span(source);
        var dst = CpuBuffer<T>.Span(destination);
        for (int r = 0; r < rowIndex.Length; r++)
            src.Slice(rowIndex[r] * cols, cols).CopyTo(dst.Slice(r * cols, cols));
    }

    protected override void EmbeddingGatherCore(int vocab, int dim, BufferSlice<T> weight, BufferSlice<T> indices, BufferSlice<T> output)
    {
        if (output.Length == 0)
            return;
        var w = CpuBuffer<T>.Span(weight);
        var idx = CpuBuffer<T>.Span(indices);
        var o = CpuBuffer<T>.Span(output);
        for (int n = 0; n < idx.Length; n++)
        {
            // The kernel's conversion: truncation toward zero; a row outside [0, V) reads zeros.
            int row = (int)Scalar<T>.ToDouble(idx[n]);
            var dst = o.Slice(n * dim, dim);
            if (row >= 0 && row < vocab)
                w.Slice(row * dim, dim).CopyTo(dst);
            else
                dst.Clear();
        }
    }

    protected override void EmbeddingScatterAddCore(int vocab, int dim, BufferSlice<T> indices, BufferSlice<T> dOutput, BufferSlice<T> weightGrad)
    {
        if (weightGrad.Length == 0 || indices.Length == 0)
            return;
        var idx = CpuBuffer<T>.Span(indices);
        var d = CpuBuffer<T>.Span(dOutput);
        var wg = CpuBuffer<T>.Span(weightGrad);
        // Rows n in ascending order: every element of the table receives its terms in the order
        // the kernel adds them, so the sums are the same bits.
        for (int n = 0; n < idx.Length; n++)
        {
            long v = (long)Scalar<T>.ToDouble(idx[n]);
            if (v >= 0 && v < vocab)
                AddInPlace(d.Slice(n * dim, dim), wg.Slice((int)v * dim, dim));
        }
    }
}

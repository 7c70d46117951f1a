using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Ilgpu;

// Row gathers, loaded on first use.
internal sealed partial class IlgpuOps<T, TOps>
{
    private Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<int>, int, long, int>? _gatherRows;

    public void GatherRows(int cols, ReadOnlySpan<int> rowIndex, BufferSlice<T> source, BufferSlice<T> destination)
    {
        long count = (long)rowIndex.Length * cols;
        if (destination.Length != count)
            throw new ArgumentException($"gather of {rowIndex.Length} rows of {cols} into a slice of {destination.Length}");
        long sourceRows = cols == 0 ? 0 : source.Length / cols;
        foreach (int r in rowIndex)
        {
            if (r < 0 || r >= sourceRows)
                throw new ArgumentOutOfRangeException(nameof(rowIndex), $"row {r} outside a source of {sourceRows} rows");
        }

        if (count == 0)
            return;
        _gatherRows ??= _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<int>, int, long, int>(GatherKernels.GatherRows<T>);
        using var index = _accelerator.Allocate1D<int>(rowIndex.Length);
        _stream.Synchronize();
        index.View.CopyFromCPU(_stream, rowIndex);
        int threads = Threads(count);
        _gatherRows(_stream, threads, View(source), View(destination), index.View, cols, count, threads);
        // The index buffer is released on return: wait for the launch that reads it.
        _stream.Synchronize();
    }
}

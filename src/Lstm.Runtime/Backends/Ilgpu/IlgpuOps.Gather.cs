using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Ilgpu;

// Row gathers.
internal sealed partial class IlgpuOps<T, TOps>
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<int>, int, long, int> _gatherRows =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<int>, int, long, int>(GatherKernels.GatherRows<T>);

    protected override void GatherRowsCore(int cols, ReadOnlySpan<int> rowIndex, BufferSlice<T> source, BufferSlice<T> destination)
    {
        long count = (long)rowIndex.Length * cols;
        if (count == 0)
            return;
        using var index = _accelerator.Allocate1D<int>(rowIndex.Length);
        _stream.Synchronize();
        index.View.CopyFromCPU(_stream, rowIndex);
        int threads = Threads(count);
        _gatherRows(_stream, threads, View(source), View(destination), index.View, cols, count, threads);
        // The index buffer is released on return: wait for the launch that reads it.
        _stream.Synchronize();
    }
}

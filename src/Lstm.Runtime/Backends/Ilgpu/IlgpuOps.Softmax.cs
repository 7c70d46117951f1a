using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Ilgpu;

// The log-softmax: one thread per row.
internal sealed partial class IlgpuOps<T, TOps>
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, int, int, int> _logSoftmax =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, int, int, int>(SoftmaxKernels.LogSoftmax<T, TOps>);

    protected override void LogSoftmaxCore(int rows, int classes, BufferSlice<T> input, BufferSlice<T> output)
    {
        int threads = Threads(rows);
        _logSoftmax(_stream, threads, View(input), View(output), rows, classes, threads);
    }
}

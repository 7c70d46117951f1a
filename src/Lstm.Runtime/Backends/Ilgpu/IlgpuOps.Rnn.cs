using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels.Cells;

namespace Lstm.Runtime.Backends.Ilgpu;

// The plain RNN cell's kernels.
internal sealed partial class IlgpuOps<T, TOps>
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int, int> _rnnForward =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int, int>(RnnCellKernels.Forward<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int> _rnnBackward =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int>(RnnCellKernels.Backward<T, TOps>);

    protected override void RnnCellForwardCore(
        int batch, int hidden, bool relu, BufferSlice<T> xproj, BufferSlice<T> hproj,
        BufferSlice<T>? biasIh, BufferSlice<T>? biasHh, BufferSlice<T> h)
    {
        int reluFlag = relu ? 1 : 0;
        int n = Count((long)batch * hidden);
        if (n == 0)
            return;
        int hasBias = biasIh.HasValue && biasHh.HasValue ? 1 : 0;
        _rnnForward(_stream, Threads(n), View(xproj), View(hproj), View(biasIh), View(biasHh), View(h), hidden, hasBias, reluFlag, n, Threads(n));
    }

    protected override void RnnCellBackwardCore(
        int batch, int hidden, bool relu, BufferSlice<T> dy, BufferSlice<T> dhRec,
        BufferSlice<T> h, BufferSlice<T> dgates)
    {
        int reluFlag = relu ? 1 : 0;
        int n = Count((long)batch * hidden);
        if (n == 0)
            return;
        _rnnBackward(_stream, Threads(n), View(dy), View(dhRec), View(h), View(dgates), reluFlag, n, Threads(n));
    }
}

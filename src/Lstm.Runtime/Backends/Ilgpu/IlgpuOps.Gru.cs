using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels.Cells;

namespace Lstm.Runtime.Backends.Ilgpu;

// The GRU cell's kernels.
internal sealed partial class IlgpuOps<T, TOps>
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int> _gruForwardTraining =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int>(GruCellKernels.ForwardTraining<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int> _gruForwardInference =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int>(GruCellKernels.ForwardInference<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int> _gruBackward =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int>(GruCellKernels.Backward<T, TOps>);

    protected override void GruCellForwardCore(
        int batch, int hidden, BufferSlice<T> xproj, BufferSlice<T> hproj, BufferSlice<T>? biasIh, BufferSlice<T>? biasHh,
        BufferSlice<T> hPrev, BufferSlice<T> h, BufferSlice<T>? acts)
    {
        int n = Count((long)batch * hidden);
        if (n == 0)
            return;
        int hasBias = biasIh.HasValue && biasHh.HasValue ? 1 : 0;
        if (acts is { } a)
            _gruForwardTraining(_stream, Threads(n), View(xproj), View(hproj), View(biasIh), View(biasHh), View(hPrev), View(h), View(a), hidden, hasBias, n, Threads(n));
        else
            _gruForwardInference(_stream, Threads(n), View(xproj), View(hproj), View(biasIh), View(biasHh), View(hPrev), View(h), hidden, hasBias, n, Threads(n));
    }

    protected override void GruCellBackwardCore(
        int batch, int hidden, BufferSlice<T> dy, BufferSlice<T> dhRec, BufferSlice<T> acts, BufferSlice<T> hPrev,
        BufferSlice<T> dgatesX, BufferSlice<T> dgatesH, BufferSlice<T> dhPrev)
    {
        int n = Count((long)batch * hidden);
        if (n == 0)
            return;
        _gruBackward(_stream, Threads(n), View(dy), View(dhRec), View(acts), View(hPrev), View(dgatesX), View(dgatesH), View(dhPrev), hidden, n, Threads(n));
    }
}

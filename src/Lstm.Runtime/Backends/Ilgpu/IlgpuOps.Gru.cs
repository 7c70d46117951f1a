using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels.Cells;

namespace Lstm.Runtime.Backends.Ilgpu;

// The GRU cell's kernels, loaded on first use.
internal sealed partial class IlgpuOps<T, TOps>
{
    private Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int>? _gruForwardTraining;
    private Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int>? _gruForwardInference;
    private Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int>? _gruBackward;

    public void GruCellForward(
        int batch, int hidden, BufferSlice<T> xproj, BufferSlice<T> hproj, BufferSlice<T>? biasIh, BufferSlice<T>? biasHh,
        BufferSlice<T> hPrev, BufferSlice<T> h, BufferSlice<T>? acts)
    {
        int n = Count((long)batch * hidden);
        if (n == 0)
            return;
        int hasBias = biasIh.HasValue && biasHh.HasValue ? 1 : 0;
        if (acts is { } a)
        {
            _gruForwardTraining ??= _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int>(GruCellKernels.ForwardTraining<T, TOps>);
            _gruForwardTraining(_stream, Threads(n), View(xproj), View(hproj), View(biasIh), View(biasHh), View(hPrev), View(h), View(a), hidden, hasBias, n, Threads(n));
        }
        else
        {
            _gruForwardInference ??= _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int>(GruCellKernels.ForwardInference<T, TOps>);
            _gruForwardInference(_stream, Threads(n), View(xproj), View(hproj), View(biasIh), View(biasHh), View(hPrev), View(h), hidden, hasBias, n, Threads(n));
        }
    }

    public void GruCellBackward(
        int batch, int hidden, BufferSlice<T> dy, BufferSlice<T> dhRec, BufferSlice<T> acts, BufferSlice<T> hPrev,
        BufferSlice<T> dgatesX, BufferSlice<T> dgatesH, BufferSlice<T> dhPrev)
    {
        int n = Count((long)batch * hidden);
        if (n == 0)
            return;
        _gruBackward ??= _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int>(GruCellKernels.Backward<T, TOps>);
        _gruBackward(_stream, Threads(n), View(dy), View(dhRec), View(acts), View(hPrev), View(dgatesX), View(dgatesH), View(dhPrev), hidden, n, Threads(n));
    }
}

using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels.Cells;

namespace Lstm.Runtime.Backends.Ilgpu;

// The LSTM cell's kernels.
internal sealed partial class IlgpuOps<T, TOps>
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int> _cellForwardTraining =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int>(LstmCellKernels.ForwardTraining<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int> _cellForwardInference =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int>(LstmCellKernels.ForwardInference<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int> _cellBackward =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int>(LstmCellKernels.Backward<T, TOps>);

    protected override void LstmCellForwardCore(
        int batch, int hidden, BufferSlice<T> xproj, BufferSlice<T> hproj, BufferSlice<T>? biasIh, BufferSlice<T>? biasHh,
        BufferSlice<T> cPrev, BufferSlice<T> c, BufferSlice<T> h, BufferSlice<T>? acts)
    {
        int n = batch * hidden;
        if (n == 0)
            return;
        int hasBias = biasIh.HasValue && biasHh.HasValue ? 1 : 0;
        if (acts is { } a)
            _cellForwardTraining(_stream, Threads(n), View(xproj), View(hproj), View(biasIh), View(biasHh), View(cPrev), View(c), View(h), View(a), hidden, hasBias, n, Threads(n));
        else
            _cellForwardInference(_stream, Threads(n), View(xproj), View(hproj), View(biasIh), View(biasHh), View(cPrev), View(c), View(h), hidden, hasBias, n, Threads(n));
    }

    protected override void LstmCellBackwardCore(
        int batch, int hidden, BufferSlice<T> dy, BufferSlice<T> dhRec, BufferSlice<T> dc, BufferSlice<T> acts,
        BufferSlice<T> c, BufferSlice<T> cPrev, BufferSlice<T> dgates)
    {
        int n = batch * hidden;
        if (n > 0)
            _cellBackward(_stream, Threads(n), View(dy), View(dhRec), View(dc), View(acts), View(c), View(cPrev), View(dgates), hidden, n, Threads(n));
    }
}

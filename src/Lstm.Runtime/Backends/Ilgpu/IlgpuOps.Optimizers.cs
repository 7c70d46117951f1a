using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Ilgpu;

// The optimizer kernels.
internal sealed partial class IlgpuOps<T, TOps>
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, T, T, T, T, int, int> _sgd =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, T, T, T, T, int, int>(OptimizerKernels.Sgd<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, T, T, T, T, T, T, T, T, int> _adam =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, T, T, T, T, T, T, T, T, int>(OptimizerKernels.Adam<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, int> _sumSquares =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, int>(OptimizerKernels.SumSquares<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, T, int> _scale =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, T, int>(OptimizerKernels.Scale<T, TOps>);

    protected override void SgdUpdateCore(
        BufferSlice<T> param, BufferSlice<T> grad, BufferSlice<T>? momentumBuffer,
        T lr, T momentum, T dampening, T weightDecay, bool nesterov, bool firstStep)
    {
        if (param.Length == 0)
            return;
        int flags = (nesterov ? 1 : 0) | (firstStep ? 2 : 0) | (momentumBuffer.HasValue ? 4 : 0);
        int threads = Threads(param.Length);
        _sgd(_stream, threads, View(param), View(grad), View(momentumBuffer), lr, momentum, dampening, weightDecay, flags, threads);
    }

    protected override void AdamUpdateCore(
        BufferSlice<T> param, BufferSlice<T> grad, BufferSlice<T> expAvg, BufferSlice<T> expAvgSq,
        T stepSize, T oneMinusBeta1, T beta2, T oneMinusBeta2, T eps, T weightDecayL2, T decay, T bias2Sqrt)
    {
        if (param.Length == 0)
            return;
        int threads = Threads(param.Length);
        _adam(_stream, threads, View(param), View(grad), View(expAvg), View(expAvgSq), stepSize, oneMinusBeta1, beta2, oneMinusBeta2, eps, weightDecayL2, decay, bias2Sqrt, threads);
    }

    protected override void SumSquaresCore(BufferSlice<T> x, BufferSlice<T> partials)
    {
        if (x.Length == 0)
        {
            Fill(partials, default);
            return;
        }
        int threads = Threads(partials.Length);
        _sumSquares(_stream, threads, View(x), View(partials), threads);
    }

    public override void Scale(T alpha, BufferSlice<T> x)
    {
        if (x.Length == 0)
            return;
        int threads = Threads(x.Length);
        _scale(_stream, threads, View(x), alpha, threads);
    }
}

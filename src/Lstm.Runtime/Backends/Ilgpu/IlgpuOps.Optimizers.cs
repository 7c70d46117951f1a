using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Ilgpu;

// The optimizer kernels, loaded on first use.
internal sealed partial class IlgpuOps<T, TOps>
{
    private Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, T, T, T, T, int, int>? _sgd;
    private Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, T, T, T, T, T, T, T, T, int>? _adam;
    private Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, int>? _sumSquares;
    private Action<AcceleratorStream, Index1D, ArrayView<T>, T, int>? _scale;

    public void SgdUpdate(
        BufferSlice<T> param, BufferSlice<T> grad, BufferSlice<T>? momentumBuffer,
        T lr, T momentum, T dampening, T weightDecay, bool nesterov, bool firstStep)
    {
        if (grad.Length != param.Length || (momentumBuffer is { } mb && mb.Length != param.Length))
            throw new LstmException($"SGD update: parameter of {param.Length} elements, gradient of {grad.Length}, buffer of {momentumBuffer?.Length}");
        if (param.Length == 0)
            return;
        _sgd ??= _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, T, T, T, T, int, int>(OptimizerKernels.Sgd<T, TOps>);
        int flags = (nesterov ? 1 : 0) | (firstStep ? 2 : 0) | (momentumBuffer.HasValue ? 4 : 0);
        int threads = Threads(param.Length);
        _sgd(_stream, threads, View(param), View(grad), View(momentumBuffer), lr, momentum, dampening, weightDecay, flags, threads);
    }

    public void AdamUpdate(
        BufferSlice<T> param, BufferSlice<T> grad, BufferSlice<T> expAvg, BufferSlice<T> expAvgSq,
        T stepSize, T oneMinusBeta1, T beta2, T oneMinusBeta2, T eps, T weightDecayL2, T decay, T bias2Sqrt)
    {
        if (grad.Length != param.Length || expAvg.Length != param.Length || expAvgSq.Length != param.Length)
            throw new LstmException($"Adam update: parameter of {param.Length} elements, gradient of {grad.Length}, moments of {expAvg.Length} and {expAvgSq.Length}");
        if (param.Length == 0)
            return;
        _adam ??= _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, T, T, T, T, T, T, T, T, int>(OptimizerKernels.Adam<T, TOps>);
        int threads = Threads(param.Length);
        _adam(_stream, threads, View(param), View(grad), View(expAvg), View(expAvgSq), stepSize, oneMinusBeta1, beta2, oneMinusBeta2, eps, weightDecayL2, decay, bias2Sqrt, threads);
    }

    public void SumSquares(BufferSlice<T> x, BufferSlice<T> partials)
    {
        if (partials.Length == 0)
            throw new LstmException("sum of squares: the partials slice is empty");
        if (x.Length == 0)
        {
            Fill(partials, default);
            return;
        }

        _sumSquares ??= _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, int>(OptimizerKernels.SumSquares<T, TOps>);
        int threads = Threads(partials.Length);
        _sumSquares(_stream, threads, View(x), View(partials), threads);
    }

    public void Scale(T alpha, BufferSlice<T> x)
    {
        if (x.Length == 0)
            return;
        _scale ??= _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, T, int>(OptimizerKernels.Scale<T, TOps>);
        int threads = Threads(x.Length);
        _scale(_stream, threads, View(x), alpha, threads);
    }
}

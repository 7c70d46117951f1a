using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Ilgpu;

// The dropout kernel.
internal sealed partial class IlgpuOps<T, TOps>
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ulong, ulong, long, uint, T, int> _dropout =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ulong, ulong, long, uint, T, int>(DropoutKernels.Dropout<T, TOps>);

    protected override void DropoutCore(ulong seed, ulong stream, long baseIndex, T p, BufferSlice<T> x, BufferSlice<T> y)
    {
        var ops = default(TOps);
        if (y.Length == 0)
            return;
        T scale = ops.Div(ops.One, ops.Sub(ops.One, p));
        _dropout(_stream, Threads(y.Length), View(x), View(y), seed, stream, baseIndex, Philox.DropThreshold(ops.ToDouble(p)), scale, Threads(y.Length));
    }
}

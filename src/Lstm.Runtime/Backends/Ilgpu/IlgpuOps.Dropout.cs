using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Ilgpu;

// The dropout kernel, loaded on first use.
internal sealed partial class IlgpuOps<T, TOps>
{
    private Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ulong, ulong, long, uint, T, int>? _dropout;

    public void Dropout(ulong seed, ulong stream, long baseIndex, T p, BufferSlice<T> x, BufferSlice<T> y)
    {
        var ops = default(TOps);
        double pd = ops.ToDouble(p);
        if (!(pd >= 0 && pd < 1))
            throw new LstmException($"dropout probability {pd} is outside [0, 1)");
        if (baseIndex < 0)
            throw new LstmException($"dropout base index {baseIndex} is negative");
        if (x.Length != y.Length)
            throw new LstmException($"dropout of {x.Length} elements into a slice of {y.Length}");
        if (y.Length == 0)
            return;
        T scale = ops.Div(ops.One, ops.Sub(ops.One, p));
        _dropout ??= _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ulong, ulong, long, uint, T, int>(DropoutKernels.Dropout<T, TOps>);
        _dropout(_stream, Threads(y.Length), View(x), View(y), seed, stream, baseIndex, Philox.DropThreshold(pd), scale, Threads(y.Length));
    }
}

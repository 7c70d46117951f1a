using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Ilgpu;

// The CTC loss: one thread per batch row.
internal sealed partial class IlgpuOps<T, TOps>
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<int>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int, T, int, int> _ctc =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<int>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int, T, int, int>(CtcKernels.Ctc<T, TOps>);

    protected override void CtcLossCore(
        int time, int batch, int classes, BufferSlice<T> logProbs, ReadOnlySpan<int> targets, int maxTargetLength,
        ReadOnlySpan<int> inputLengths, ReadOnlySpan<int> targetLengths, T scale, CtcFlags flags, BufferSlice<T> grad, BufferSlice<T> rowLoss)
    {
        var packed = PackCtcIntegers(targets, inputLengths, targetLengths);
        using var ints = _accelerator.Allocate1D<int>(packed.Length);
        using var work = _accelerator.Allocate1D<T>(Math.Max(1, CtcKernels.WorkspaceLength(time, batch, maxTargetLength)));
        _stream.Synchronize();
        ints.View.CopyFromCPU(_stream, packed);
        int threads = Threads(batch);
        _ctc(_stream, threads, View(logProbs), ints.View, work.View, View(grad), View(rowLoss), time, batch, classes, maxTargetLength, scale, (int)flags, threads);
        // The integers and the workspace are released on return: wait for the launch that uses them.
        _stream.Synchronize();
    }
}

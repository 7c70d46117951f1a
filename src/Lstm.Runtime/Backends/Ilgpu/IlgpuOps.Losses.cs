using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Ilgpu;

// The loss kernels.
internal sealed partial class IlgpuOps<T, TOps>
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, T, int, int> _mseLoss =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, T, int, int>(LossKernels.Mse<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, T, int, int> _crossEntropy =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, T, int, int>(LossKernels.CrossEntropy<T, TOps>);

    protected override void MseLossCore(int rows, int cols, BufferSlice<T> prediction, BufferSlice<T> target, BufferSlice<T>? mask, T scale, BufferSlice<T> grad, BufferSlice<T> rowLoss)
    {
        if (rows == 0)
            return;
        if (cols == 0)
        {
            Fill(rowLoss, default);
            return;
        }
        int threads = Threads(rows);
        _mseLoss(_stream, threads, View(prediction), View(target), View(mask), View(grad), View(rowLoss), rows, cols, scale, mask.HasValue ? 1 : 0, threads);
    }

    protected override void CrossEntropyLossCore(int rows, int classes, BufferSlice<T> logits, BufferSlice<T> targets, BufferSlice<T>? mask, T scale, BufferSlice<T> grad, BufferSlice<T> rowLoss)
    {
        if (rows == 0)
            return;
        int threads = Threads(rows);
        _crossEntropy(_stream, threads, View(logits), View(targets), View(mask), View(grad), View(rowLoss), rows, classes, scale, mask.HasValue ? 1 : 0, threads);
    }
}

using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Ilgpu;

// The loss kernels, loaded on first use.
internal sealed partial class IlgpuOps<T, TOps>
{
    private Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, T, int, int>? _mseLoss;
    private Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, T, int, int>? _crossEntropy;

    private static void CheckRows(string what, int rows, int cols, BufferSlice<T> a, long aLength, BufferSlice<T>? mask, BufferSlice<T> grad, BufferSlice<T> rowLoss)
    {
        long n = (long)rows * cols;
        if (rows < 0 || cols < 0 || a.Length != n || aLength != (what == "MSE" ? n : rows) || grad.Length != n || rowLoss.Length != rows
            || (mask is { } m && m.Length != rows))
            throw new LstmException($"{what} loss over [{rows}, {cols}]: input of {a.Length} elements, target of {aLength}, gradient of {grad.Length}, row losses of {rowLoss.Length}, mask of {mask?.Length}");
    }

    public void MseLoss(int rows, int cols, BufferSlice<T> prediction, BufferSlice<T> target, BufferSlice<T>? mask, T scale, BufferSlice<T> grad, BufferSlice<T> rowLoss)
    {
        CheckRows("MSE", rows, cols, prediction, target.Length, mask, grad, rowLoss);
        if (rows == 0)
            return;
        if (cols == 0)
        {
            Fill(rowLoss, default);
            return;
        }

        _mseLoss ??= _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, T, int, int>(LossKernels.Mse<T, TOps>);
        int threads = Threads(rows);
        _mseLoss(_stream, threads, View(prediction), View(target), View(mask), View(grad), View(rowLoss), rows, cols, scale, mask.HasValue ? 1 : 0, threads);
    }

    public void CrossEntropyLoss(int rows, int classes, BufferSlice<T> logits, BufferSlice<T> targets, BufferSlice<T>? mask, T scale, BufferSlice<T> grad, BufferSlice<T> rowLoss)
    {
        CheckRows("cross-entropy", rows, classes, logits, targets.Length, mask, grad, rowLoss);
        if (rows == 0)
            return;
        if (classes == 0)
            throw new LstmException("cross-entropy loss over 0 classes");
        _crossEntropy ??= _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, T, int, int>(LossKernels.CrossEntropy<T, TOps>);
        int threads = Threads(rows);
        _crossEntropy(_stream, threads, View(logits), View(targets), View(mask), View(grad), View(rowLoss), rows, classes, scale, mask.HasValue ? 1 : 0, threads);
    }
}

using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels;
using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Ilgpu;

// The attention kernels.
internal sealed partial class IlgpuOps<T, TOps>
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, int, int> _tanh =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, int, int>(AttentionKernels.Tanh<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int> _tanhBackward =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int>(AttentionKernels.TanhBackward<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int> _maskedSoftmax =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int>(AttentionKernels.MaskedSoftmax<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int> _softmaxBackward =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int>(AttentionKernels.SoftmaxBackward<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, int, int, int> _maskRows =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, int, int, int>(AttentionKernels.MaskRows<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int, int> _additiveScores =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int, int>(AttentionKernels.AdditiveScores<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int, int> _additiveBackward =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int, int>(
            AttentionKernels.AdditiveScoresBackward<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, GemmShape, long, long, long, T, T, int, int> _batchedGemm =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, GemmShape, long, long, long, T, T, int, int>(BatchedGemmKernels.Batched<T, TOps>);

    protected override void BatchedGemmCore(int batch, GemmShape shape, long strideA, long strideB, long strideC, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c)
    {
        int threads = Threads((long)batch * shape.M * shape.N);
        _batchedGemm(_stream, threads, View(a), View(b), View(c), shape, strideA, strideB, strideC, alpha, beta, batch, threads);
    }

    protected override void TanhCore(BufferSlice<T> x, BufferSlice<T> y)
    {
        if (y.Length == 0)
            return;
        int threads = Threads(y.Length);
        _tanh(_stream, threads, View(x), View(y), Count(y.Length), threads);
    }

    protected override void TanhBackwardCore(BufferSlice<T> y, BufferSlice<T> dy, BufferSlice<T> dx)
    {
        if (dx.Length == 0)
            return;
        int threads = Threads(dx.Length);
        _tanhBackward(_stream, threads, View(y), View(dy), View(dx), Count(dx.Length), threads);
    }

    protected override void MaskedSoftmaxCore(int rows, int cols, BufferSlice<T> x, BufferSlice<T> lengths, BufferSlice<T> y)
    {
        int threads = Threads(rows);
        _maskedSoftmax(_stream, threads, View(x), View(lengths), View(y), rows, cols, threads);
    }

    protected override void SoftmaxBackwardCore(int rows, int cols, BufferSlice<T> y, BufferSlice<T> dy, BufferSlice<T> dx)
    {
        int threads = Threads(rows);
        _softmaxBackward(_stream, threads, View(y), View(dy), View(dx), rows, cols, threads);
    }

    protected override void MaskRowsCore(int cols, BufferSlice<T> mask, BufferSlice<T> y)
    {
        int threads = Threads(y.Length);
        _maskRows(_stream, threads, View(mask), View(y), Count(y.Length), cols, threads);
    }

    protected override void AdditiveScoresCore(int batch, int queries, int keys, int width, BufferSlice<T> q, BufferSlice<T> k, BufferSlice<T> v, BufferSlice<T> scores)
    {
        int threads = Threads((long)batch * queries * keys);
        _additiveScores(_stream, threads, View(q), View(k), View(v), View(scores), batch, queries, keys, width, threads);
    }

    protected override void AdditiveScoresBackwardCore(
        int batch, int queries, int keys, int width, BufferSlice<T> q, BufferSlice<T> k, BufferSlice<T> v, BufferSlice<T> dScores,
        BufferSlice<T> dq, BufferSlice<T> dk, BufferSlice<T> dv)
    {
        int threads = Threads((long)batch * (queries + keys) * width + width);
        _additiveBackward(_stream, threads, View(q), View(k), View(v), View(dScores), View(dq), View(dk), View(dv), batch, queries, keys, width, threads);
    }
}

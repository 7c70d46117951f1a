using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Ilgpu;

// The embedding kernels.
internal sealed partial class IlgpuOps<T, TOps>
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int> _embeddingGather =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int>(EmbeddingKernels.Gather<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int> _embeddingScatterAdd =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int>(EmbeddingKernels.ScatterAdd<T, TOps>);

    protected override void EmbeddingGatherCore(int vocab, int dim, BufferSlice<T> weight, BufferSlice<T> indices, BufferSlice<T> output)
    {
        if (output.Length == 0)
            return;
        int threads = Threads(output.Length);
        _embeddingGather(_stream, threads, View(weight), View(indices), View(output), vocab, dim, threads);
    }

    protected override void EmbeddingScatterAddCore(int vocab, int dim, BufferSlice<T> indices, BufferSlice<T> dOutput, BufferSlice<T> weightGrad)
    {
        if (weightGrad.Length == 0 || indices.Length == 0)
            return;
        int threads = Threads(weightGrad.Length);
        _embeddingScatterAdd(_stream, threads, View(indices), View(dOutput), View(weightGrad), Count(indices.Length), dim, threads);
    }
}

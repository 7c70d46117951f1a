using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Ilgpu;

// The embedding kernels, loaded on first use.
internal sealed partial class IlgpuOps<T, TOps>
{
    private Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int>? _embeddingGather;
    private Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int>? _embeddingScatterAdd;

    public void EmbeddingGather(int vocab, int dim, BufferSlice<T> weight, BufferSlice<T> indices, BufferSlice<T> output)
    {
        if (vocab < 0 || dim < 0 || weight.Length != (long)vocab * dim || output.Length != indices.Length * dim)
            throw new LstmException($"embedding gather: table [{vocab}, {dim}] of {weight.Length} elements, {indices.Length} indices, output of {output.Length}");
        if (output.Length == 0)
            return;
        _embeddingGather ??= _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int>(EmbeddingKernels.Gather<T, TOps>);
        int threads = Threads(output.Length);
        _embeddingGather(_stream, threads, View(weight), View(indices), View(output), vocab, dim, threads);
    }

    public void EmbeddingScatterAdd(int vocab, int dim, BufferSlice<T> indices, BufferSlice<T> dOutput, BufferSlice<T> weightGrad)
    {
        if (vocab < 0 || dim < 0 || weightGrad.Length != (long)vocab * dim || dOutput.Length != indices.Length * dim)
            throw new LstmException($"embedding scatter-add: table [{vocab}, {dim}] of {weightGrad.Length} elements, {indices.Length} indices, gradient of {dOutput.Length}");
        if (weightGrad.Length == 0 || indices.Length == 0)
            return;
        _embeddingScatterAdd ??= _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int>(EmbeddingKernels.ScatterAdd<T, TOps>);
        int threads = Threads(weightGrad.Length);
        _embeddingScatterAdd(_stream, threads, View(indices), View(dOutput), View(weightGrad), Count(indices.Length), dim, threads);
    }
}

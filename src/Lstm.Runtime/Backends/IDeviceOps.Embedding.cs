namespace Lstm.Runtime.Backends;

// Embedding lookups (see Lstm.Kernels.EmbeddingKernels).
public partial interface IDeviceOps<T>
{
    /// <summary>output[n, :] = weight[idx[n], :] (zeros for an index outside [0, V)).</summary>
    /// <param name="vocab">V.</param>
    /// <param name="dim">E.</param>
    /// <param name="weight">[V, E].</param>
    /// <param name="indices">[N] row indices stored as exact integers of T.</param>
    /// <param name="output">[N, E] out.</param>
    void EmbeddingGather(int vocab, int dim, BufferSlice<T> weight, BufferSlice<T> indices, BufferSlice<T> output);

    /// <summary>weightGrad[v, :] += Σ over n with idx[n] = v of dOutput[n, :] (deterministic order).</summary>
    /// <param name="vocab">V.</param>
    /// <param name="dim">E.</param>
    /// <param name="indices">[N] row indices stored as exact integers of T.</param>
    /// <param name="dOutput">[N, E].</param>
    /// <param name="weightGrad">[V, E], accumulated.</param>
    void EmbeddingScatterAdd(int vocab, int dim, BufferSlice<T> indices, BufferSlice<T> dOutput, BufferSlice<T> weightGrad);
}

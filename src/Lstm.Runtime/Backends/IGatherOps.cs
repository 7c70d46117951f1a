namespace Lstm.Runtime.Backends;

/// <summary>Row gathers (variable-length batches are sorted by length on entry and restored on exit) and the embedding lookups (see <see cref="Lstm.Kernels.EmbeddingKernels"/>).</summary>
/// <typeparam name="T">float or double.</typeparam>
public interface IGatherOps<T> where T : unmanaged
{
    /// <summary>
    /// destination[r, :] = source[rowIndex[r], :] for every r &lt; rowIndex.Length: a row
    /// permutation or selection (see <see cref="Lstm.Kernels.GatherKernels"/>).
    /// </summary>
    /// <param name="cols">Row width (elements).</param>
    /// <param name="rowIndex">The source row of each destination row; each in [0, source.Length / cols).</param>
    /// <param name="source">[rows_src, cols].</param>
    /// <param name="destination">[rowIndex.Length, cols]; must not overlap the source.</param>
    void GatherRows(int cols, ReadOnlySpan<int> rowIndex, BufferSlice<T> source, BufferSlice<T> destination);

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

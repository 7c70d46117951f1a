namespace Lstm.Runtime.Backends;

/// <summary>Reductions, layout changes and element-wise updates: bias gradients, axis swaps, row biases, axpy and dropout.</summary>
/// <typeparam name="T">float or double.</typeparam>
public interface IElementwiseOps<T> where T : unmanaged
{
    /// <summary>dst[j] = β·dst[j] + Σ_r src[r, j] (bias gradients).</summary>
    /// <param name="rows">Rows of src.</param>
    /// <param name="cols">Columns of src.</param>
    /// <param name="source">[rows, cols].</param>
    /// <param name="beta">0 to overwrite, 1 to accumulate.</param>
    /// <param name="destination">[cols].</param>
    void SumRows(int rows, int cols, BufferSlice<T> source, T beta, BufferSlice<T> destination);

    /// <summary>Swaps the first two axes: [d0, d1, d2] → [d1, d0, d2].</summary>
    /// <param name="d0">First axis of the source.</param>
    /// <param name="d1">Second axis of the source.</param>
    /// <param name="d2">Last axis.</param>
    /// <param name="source">[d0, d1, d2].</param>
    /// <param name="destination">[d1, d0, d2], not overlapping the source.</param>
    void SwapAxes01(int d0, int d1, int d2, BufferSlice<T> source, BufferSlice<T> destination);

    /// <summary>Adds bias[j] to every row of y ([rows, cols]).</summary>
    /// <param name="cols">Columns.</param>
    /// <param name="y">[rows, cols], updated.</param>
    /// <param name="bias">[cols].</param>
    void AddRowBias(int cols, BufferSlice<T> y, BufferSlice<T> bias);

    /// <summary>y += α·x.</summary>
    /// <param name="alpha">α.</param>
    /// <param name="x">Source.</param>
    /// <param name="y">Updated.</param>
    void Axpy(T alpha, BufferSlice<T> x, BufferSlice<T> y);

    /// <summary>
    /// Dropout: y[i] = keep(i) ? x[i] / (1 − p) : 0, where keep(i) depends only on
    /// (<paramref name="seed"/>, <paramref name="stream"/>, <paramref name="baseIndex"/> + i)
    /// through Philox4x32-10 (<see cref="Lstm.Kernels.Philox.Keep"/>), so every backend, every
    /// split into chunks and every run draw the same mask, and the host reproduces it. An element
    /// is kept with probability 1 − p (to 2^-24). The backward pass is the same call on the
    /// gradient with the same key.
    /// </summary>
    /// <param name="seed">The generator's seed (Philox key).</param>
    /// <param name="stream">An independent stream (e.g. the layer index).</param>
    /// <param name="baseIndex">Index of x[0] in the logical tensor (≥ 0).</param>
    /// <param name="p">Drop probability in [0, 1); 0 is the identity.</param>
    /// <param name="x">[n] input.</param>
    /// <param name="y">[n] output; may be x.</param>
    /// <exception cref="LstmException">p outside [0, 1), a negative baseIndex or lengths that differ.</exception>
    void Dropout(ulong seed, ulong stream, long baseIndex, T p, BufferSlice<T> x, BufferSlice<T> y);
}

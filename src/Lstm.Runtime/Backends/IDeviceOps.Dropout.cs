
namespace Lstm.Runtime.Backends;

// Dropout with a counter-based generator.
public partial interface IDeviceOps<T>
{
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

using ILGPU;

namespace Lstm.Kernels;

/// <summary>
/// Dropout with the counter-based generator <see cref="Philox"/>: the mask of element i of a
/// logical tensor depends on (seed, stream, baseIndex + i) only, so any device, any launch shape
/// and any split of the tensor into chunks draw the same mask, and the backward pass redraws it
/// instead of storing it.
/// </summary>
/// <remarks>
/// <code>
/// keep_i = (Philox.DropoutBits(seed, stream, baseIndex + i) >> 8) ≥ threshold     // threshold = ⌈p·2^24⌉
/// y[i]   = keep_i ? x[i] · scale : 0                                              // scale = 1 / (1 − p)
/// </code>
/// The kernel loops with a stride like <c>LstmCellKernels</c>.
/// </remarks>
internal static class DropoutKernels
{
    /// <summary>
    /// y[i] = keep(baseIndex + i) ? x[i]·scale : 0. The backward pass is the same launch on the
    /// gradient with the same key.
    /// </summary>
    /// <param name="index">Element i.</param>
    /// <param name="x">Input: [n].</param>
    /// <param name="y">Output: [n]; may be the same buffer as <paramref name="x"/>.</param>
    /// <param name="seed">The generator's seed.</param>
    /// <param name="stream">The stream (e.g. the layer index).</param>
    /// <param name="baseIndex">Index of x[0] in the logical tensor.</param>
    /// <param name="threshold"><see cref="Philox.DropThreshold"/> of the drop probability p.</param>
    /// <param name="scale">1 / (1 − p).</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void Dropout<T, TOps>(
        Index1D index, ArrayView<T> x, ArrayView<T> y, ulong seed, ulong stream, long baseIndex, uint threshold, T scale, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        for (long e = index; e < y.Length; e += stride)
            y[e] = Philox.Keep(seed, stream, baseIndex + e, threshold) ? ops.Mul(x[e], scale) : ops.Zero;
    }
}

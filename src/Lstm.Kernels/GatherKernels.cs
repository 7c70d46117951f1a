using ILGPU;

namespace Lstm.Kernels;

/// <summary>
/// Row gathers: how variable-length batches are sorted by length on entry and put back in the
/// caller's order on exit (a scatter by a permutation is a gather by its inverse).
/// </summary>
/// <remarks>
/// The kernel takes the element count and the number of threads launched (stride) and loops,
/// as <c>LstmCellKernels</c> explains.
/// </remarks>
internal static class GatherKernels
{
    /// <summary>dst[r, j] = src[index[r], j] for r &lt; index.Length, j &lt; cols.</summary>
    /// <param name="i">Element of dst, flat.</param>
    /// <param name="src">[rows_src, cols].</param>
    /// <param name="dst">[index.Length, cols]; must not alias src.</param>
    /// <param name="index">[rows]: the source row of each destination row.</param>
    /// <param name="cols">Row width.</param>
    /// <param name="count">index.Length·cols.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void GatherRows<T>(Index1D i, ArrayView<T> src, ArrayView<T> dst, ArrayView<int> index, int cols, long count, int stride)
        where T : unmanaged
    {
        for (long e = i; e < count; e += stride)
        {
            long r = e / cols;
            long j = e - r * cols;
            dst[e] = src[(long)index[r] * cols + j];
        }
    }
}

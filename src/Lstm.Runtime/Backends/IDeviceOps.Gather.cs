
namespace Lstm.Runtime.Backends;

// Row gathers (variable-length batches are sorted by length on entry and restored on exit).
public partial interface IDeviceOps<T>
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
}

using Lstm.Runtime.Backends;

namespace Lstm.Runtime.Recurrent;

/// <summary>Slices of rows and the moves between the caller's row order and a <see cref="LengthPlan"/>'s sorted one.</summary>
internal static class RowOrder
{
    /// <summary>Rows [start, start + rows) of a [B, width] slice.</summary>
    public static BufferSlice<T> Rows<T>(BufferSlice<T> s, int start, int rows, int width) where T : unmanaged =>
        s.Slice((long)start * width, (long)rows * width);

    /// <summary>A new buffer [blocks, B, width] whose row b of each block is row perm[b] of the source's block.</summary>
    public static DeviceBuffer<T> Gather<T>(IDeviceOps<T> ops, int width, int blocks, int[] perm, BufferSlice<T> source) where T : unmanaged
    {
        var index = BlockIndex(blocks, perm);
        var destination = ops.Allocate((long)index.Length * width);
        ops.GatherRows(width, index, source, destination.All);
        return destination;
    }

    /// <summary>Copies sorted rows [blocks, B, width] into the caller's row order.</summary>
    public static void Restore<T>(IDeviceOps<T> ops, int width, int blocks, LengthPlan? plan, BufferSlice<T> sorted, BufferSlice<T> destination) where T : unmanaged
    {
        if (plan is not { Identity: false })
        {
            ops.Copy(sorted, destination);
            return;
        }

        ops.GatherRows(width, BlockIndex(blocks, plan.Inverse), sorted, destination);
    }

    /// <summary>The row index of a permutation applied to each of <paramref name="blocks"/> blocks of B rows.</summary>
    private static int[] BlockIndex(int blocks, int[] perm)
    {
        int batch = perm.Length;
        var index = new int[blocks * batch];
        for (int j = 0; j < blocks; j++)
        {
            for (int r = 0; r < batch; r++)
                index[j * batch + r] = j * batch + perm[r];
        }

        return index;
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Cpu;

/// <content>The few-row GEMM: products of at most <see cref="FewRowsMax"/> rows over a cached packed op(B), on register-width or wide panels.</content>
internal sealed partial class CpuOps<T>
{
    /// <summary>
    /// Few rows: op(B) packed once by the cache, all of op(A) packed (small) or, for one or two
    /// rows over wide panels, read where it lies; the workers split the column panels (in pairs,
    /// or wide panels) and each walks every K block of its columns.
    /// </summary>
    private static void FewRows<TV, TS>(GemmJob job, GemmShape s, T alpha, BufferSlice<T> a, T[] panels, int start, int width, T beta, BufferSlice<T> c, CpuGemm.Update first)
        where TV : struct
        where TS : ISimd<T, TV>
    {
        int nr = 2 * TS.Count;
        bool widePanels = width != nr;
        (job.A, job.AOffset) = CpuBuffer<T>.ReadOnlyArrayAt(a);
        (job.ARow, job.AStep) = AStrides(s);

        job.BPanels = panels;
        job.BStart = start;
        (job.C, job.COffset) = CpuBuffer<T>.ArrayAt(c);
        job.Ldc = s.Ldc;
        job.Alpha = alpha;
        job.Beta = beta;
        job.First = first;
        job.Rows = s.M;
        job.Cols = s.N;
        job.K = s.K;
        job.NPad = RoundUp(s.N, width);
        job.RowPanels = (s.M + CpuGemm.MR - 1) / CpuGemm.MR;
        job.ColPanels = job.NPad / width;
        // The workers take wide panels, or register panels in pairs.
        int items = widePanels ? job.ColPanels : (job.ColPanels + 1) / 2;
        CpuParallel.For(items, CpuParallel.Chunks(items, (long)s.M * s.N * s.K), job, widePanels ? Tiles<TV, TS>.FewWide : Tiles<TV, TS>.Few);
    }

    /// <summary>One or two rows over wide panels [start, end) of the packed op(B), K block after K block.</summary>
    private static void RunFewRowsWide<TV, TS>(GemmJob job, int start, int end)
        where TV : struct
        where TS : ISimd<T, TV>
    {
        int nr = 2 * TS.Count;
        Span<T> tile = stackalloc T[4 * CpuGemm.MR * nr];
        ref T tileRef = ref MemoryMarshal.GetReference(tile);
        ref T a = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.A), job.AOffset);
        ref T packedB = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.BPanels), job.BStart);
        ref T c = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.C), job.COffset);
        for (int pc = 0; pc < job.K; pc += CpuGemm.KC)
        {
            int kc = Math.Min(CpuGemm.KC, job.K - pc);
            var mode = pc == 0 ? job.First : CpuGemm.Update.Accumulate;
            ref T pa = ref Unsafe.Add(ref a, (nint)pc * job.AStep);
            ref T pb = ref Unsafe.Add(ref packedB, (nint)pc * job.NPad);
            for (int wp = start; wp < end; wp++)
            {
                WidePanel<TV, TS>(kc, job.Rows, ref pa, job.ARow, job.AStep, ref Unsafe.Add(ref pb, (nint)wp * 4 * nr * kc), ref tileRef);
                for (int q = 0; q < 4; q++)
                {
                    int col = (4 * wp + q) * nr;
                    int cols = Math.Min(nr, job.Cols - col);
                    if (cols > 0)
                    {
                        CpuGemm.Store<T, TV, TS>(
                            ref Unsafe.Add(ref tileRef, q * CpuGemm.MR * nr), ref Unsafe.Add(ref c, col), job.Ldc, job.Rows, cols,
                            job.Alpha, job.Beta, mode);
                    }
                }
            }
        }
    }

    /// <summary>One or two rows of op(A) as stored (row r, step k at a + r·aRow + k·aStep) against one wide panel of 4 · 2·Count columns (kc steps): four tiles, as <see cref="CpuGemm.Kernel4{T, TV, TS, TRows}"/> lays them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WidePanel<TV, TS>(int kc, int rows, ref T a, nint aRow, nint aStep, ref T panel, ref T tile)
        where TV : struct
        where TS : ISimd<T, TV>
    {
        int nr = 2 * TS.Count;
        if (rows == 1)
            CpuGemm.Kernel4<T, TV, TS, CpuGemm.C1>(kc, ref a, aRow, aStep, ref panel, nr, 4 * nr, ref tile);
        else
            CpuGemm.Kernel4<T, TV, TS, CpuGemm.C2>(kc, ref a, aRow, aStep, ref panel, nr, 4 * nr, ref tile);
    }

    private static void RunFewRows<TV, TS>(GemmJob job, int start, int end)
        where TV : struct
        where TS : ISimd<T, TV>
    {
        int nr = 2 * TS.Count;
        Span<T> tile = stackalloc T[4 * CpuGemm.MR * nr];
        ref T tileRef = ref MemoryMarshal.GetReference(tile);
        ref T packedB = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.BPanels), job.BStart);
        ref T c = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(job.C), job.COffset);
        for (int pc = 0; pc < job.K; pc += CpuGemm.KC)
        {
            int kc = Math.Min(CpuGemm.KC, job.K - pc);
            var mode = pc == 0 ? job.First : CpuGemm.Update.Accumulate;
            ComputeBlock<TV, TS>(
                kc, new BlockA(job, job.AOffset + pc * job.AStep), 0, job.RowPanels, job.Rows,
                ref Unsafe.Add(ref packedB, (nint)pc * job.NPad), start, end, job.ColPanels, job.Cols,
                ref c, job.Ldc, job.Alpha, job.Beta, mode, ref tileRef);
        }
    }
}

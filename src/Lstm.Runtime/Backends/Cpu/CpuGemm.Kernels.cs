using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Cpu;

/// <content>The register-blocked micro-kernels: MR rows by one or two panels of NR columns, the few-row variant over four panels, and the dispatch by rows.</content>
internal static partial class CpuGemm
{
    /// <summary>
    /// The micro-kernel: for <typeparamref name="TRows"/> rows of a packed A panel and
    /// <typeparamref name="TPanels"/> (1 or 2) packed B panels of 2·Count columns, tile = Σ_k
    /// a[k, row]ᵀ · b[k, :] over kc steps, up to 6 × 4 accumulators held in registers.
    /// </summary>
    /// <remarks>
    /// Rows past <typeparamref name="TRows"/> and the second panel are compile-time constants, so
    /// the JIT drops their code: a batch-1 product (1 row × 2 panels) runs 4 independent FMA chains,
    /// a full block (6 × 2) 24 FMAs per 4 loads of B and 6 broadcasts of A.
    /// </remarks>
    /// <param name="kc">Steps.</param>
    /// <param name="a">Row 0 of A at step 0: a packed A panel (aRow 1, aStep MR) or op(A) as stored (aRow its row stride, aStep 1).</param>
    /// <param name="aRow">Elements from row 0 of A to row 1.</param>
    /// <param name="aStep">Elements from one step of A to the next.</param>
    /// <param name="b0">First packed B panel: kc × 2·Count.</param>
    /// <param name="b1">Second packed B panel (read only when <typeparamref name="TPanels"/> is 2).</param>
    /// <param name="tile">Out: the first panel's MR × 2·Count accumulators, row-major, then the second's.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel<T, TV, TS, TRows, TPanels>(int kc, ref T a, nint aRow, nint aStep, ref T b0, ref T b1, ref T tile)
        where T : unmanaged
        where TV : struct
        where TS : ISimd<T, TV>
        where TRows : IConstant
        where TPanels : IConstant
    {
        int w = TS.Count;
        int nr = 2 * w;
        bool two = TPanels.Value > 1;
        nint a2 = 2 * aRow, a3 = 3 * aRow, a4 = 4 * aRow, a5 = 5 * aRow;
        TV c00 = default, c01 = default, c02 = default, c03 = default;
        TV c10 = default, c11 = default, c12 = default, c13 = default;
        TV c20 = default, c21 = default, c22 = default, c23 = default;
        TV c30 = default, c31 = default, c32 = default, c33 = default;
        TV c40 = default, c41 = default, c42 = default, c43 = default;
        TV c50 = default, c51 = default, c52 = default, c53 = default;
        for (int k = 0; k < kc; k++)
        {
            TV x0 = TS.Load(ref b0);
            TV x1 = TS.Load(ref Unsafe.Add(ref b0, w));
            TV x2 = default, x3 = default;
            if (two)
            {
                x2 = TS.Load(ref b1);
                x3 = TS.Load(ref Unsafe.Add(ref b1, w));
            }

            TV av = TS.Broadcast(a);
            c00 = TS.MulAdd(av, x0, c00);
            c01 = TS.MulAdd(av, x1, c01);
            if (two)
            {
                c02 = TS.MulAdd(av, x2, c02);
                c03 = TS.MulAdd(av, x3, c03);
            }

            if (TRows.Value > 1)
            {
                av = TS.Broadcast(Unsafe.Add(ref a, aRow));
                c10 = TS.MulAdd(av, x0, c10);
                c11 = TS.MulAdd(av, x1, c11);
                if (two)
                {
                    c12 = TS.MulAdd(av, x2, c12);
                    c13 = TS.MulAdd(av, x3, c13);
                }
            }

            if (TRows.Value > 2)
            {
                av = TS.Broadcast(Unsafe.Add(ref a, a2));
                c20 = TS.MulAdd(av, x0, c20);
                c21 = TS.MulAdd(av, x1, c21);
                if (two)
                {
                    c22 = TS.MulAdd(av, x2, c22);
                    c23 = TS.MulAdd(av, x3, c23);
                }
            }

            if (TRows.Value > 3)
            {
                av = TS.Broadcast(Unsafe.Add(ref a, a3));
                c30 = TS.MulAdd(av, x0, c30);
                c31 = TS.MulAdd(av, x1, c31);
                if (two)
                {
                    c32 = TS.MulAdd(av, x2, c32);
                    c33 = TS.MulAdd(av, x3, c33);
                }
            }

            if (TRows.Value > 4)
            {
                av = TS.Broadcast(Unsafe.Add(ref a, a4));
                c40 = TS.MulAdd(av, x0, c40);
                c41 = TS.MulAdd(av, x1, c41);
                if (two)
                {
                    c42 = TS.MulAdd(av, x2, c42);
                    c43 = TS.MulAdd(av, x3, c43);
                }
            }

            if (TRows.Value > 5)
            {
                av = TS.Broadcast(Unsafe.Add(ref a, a5));
                c50 = TS.MulAdd(av, x0, c50);
                c51 = TS.MulAdd(av, x1, c51);
                if (two)
                {
                    c52 = TS.MulAdd(av, x2, c52);
                    c53 = TS.MulAdd(av, x3, c53);
                }
            }

            a = ref Unsafe.Add(ref a, aStep);
            b0 = ref Unsafe.Add(ref b0, nr);
            if (two)
                b1 = ref Unsafe.Add(ref b1, nr);
        }

        ref T t1 = ref Unsafe.Add(ref tile, MR * nr);
        TS.Store(c00, ref tile);
        TS.Store(c01, ref Unsafe.Add(ref tile, w));
        if (two)
        {
            TS.Store(c02, ref t1);
            TS.Store(c03, ref Unsafe.Add(ref t1, w));
        }

        if (TRows.Value > 1)
        {
            TS.Store(c10, ref Unsafe.Add(ref tile, nr));
            TS.Store(c11, ref Unsafe.Add(ref tile, nr + w));
            if (two)
            {
                TS.Store(c12, ref Unsafe.Add(ref t1, nr));
                TS.Store(c13, ref Unsafe.Add(ref t1, nr + w));
            }
        }

        if (TRows.Value > 2)
        {
            TS.Store(c20, ref Unsafe.Add(ref tile, 2 * nr));
            TS.Store(c21, ref Unsafe.Add(ref tile, 2 * nr + w));
            if (two)
            {
                TS.Store(c22, ref Unsafe.Add(ref t1, 2 * nr));
                TS.Store(c23, ref Unsafe.Add(ref t1, 2 * nr + w));
            }
        }

        if (TRows.Value > 3)
        {
            TS.Store(c30, ref Unsafe.Add(ref tile, 3 * nr));
            TS.Store(c31, ref Unsafe.Add(ref tile, 3 * nr + w));
            if (two)
            {
                TS.Store(c32, ref Unsafe.Add(ref t1, 3 * nr));
                TS.Store(c33, ref Unsafe.Add(ref t1, 3 * nr + w));
            }
        }

        if (TRows.Value > 4)
        {
            TS.Store(c40, ref Unsafe.Add(ref tile, 4 * nr));
            TS.Store(c41, ref Unsafe.Add(ref tile, 4 * nr + w));
            if (two)
            {
                TS.Store(c42, ref Unsafe.Add(ref t1, 4 * nr));
                TS.Store(c43, ref Unsafe.Add(ref t1, 4 * nr + w));
            }
        }

        if (TRows.Value > 5)
        {
            TS.Store(c50, ref Unsafe.Add(ref tile, 5 * nr));
            TS.Store(c51, ref Unsafe.Add(ref tile, 5 * nr + w));
            if (two)
            {
                TS.Store(c52, ref Unsafe.Add(ref t1, 5 * nr));
                TS.Store(c53, ref Unsafe.Add(ref t1, 5 * nr + w));
            }
        }
    }

    /// <summary>
    /// One or two rows against four B panels of 2·Count columns each: 8 or 16 independent FMA
    /// chains, where <see cref="Kernel{T, TV, TS, TRows, TPanels}"/> with two panels has 4 or 8,
    /// too few to cover the FMA latency of a product with one or two rows. Each element's chain is
    /// the same as there (from zero, k in order), so the values are the same bit for bit. Tiles:
    /// panel q's MR × 2·Count accumulators at q · MR · 2·Count.
    /// </summary>
    /// <remarks>
    /// Two layouts of the four panels: side by side in the packed block (panel q at q · kc · 2·Count,
    /// each step 2·Count on), or one wide panel of 8·Count columns (panel q at q · 2·Count, each step
    /// 8·Count on). With one or two rows the product streams B from L2 and does little else; the
    /// wide panel is one stream instead of four 32 KiB apart (which the prefetchers follow
    /// better), and the A of a one- or two-row
    /// product can be read where it lies (aRow, aStep) instead of packed.
    /// </remarks>
    /// <param name="kc">Steps.</param>
    /// <param name="a">Row 0 of A at step 0: a packed A panel (aRow 1, aStep MR) or op(A) as stored.</param>
    /// <param name="aRow">Elements from row 0 of A to row 1.</param>
    /// <param name="aStep">Elements from one step of A to the next.</param>
    /// <param name="b">The first panel's first step.</param>
    /// <param name="panel">Elements from one panel to the next.</param>
    /// <param name="step">Elements from one step of a panel to the next.</param>
    /// <param name="tile">Out: 4 · MR · 2·Count accumulators.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel4<T, TV, TS, TRows>(int kc, ref T a, nint aRow, nint aStep, ref T b, nint panel, nint step, ref T tile)
        where T : unmanaged
        where TV : struct
        where TS : ISimd<T, TV>
        where TRows : IConstant
    {
        int w = TS.Count;
        int nr = 2 * w;
        ref T b0 = ref b;
        ref T b1 = ref Unsafe.Add(ref b, panel);
        ref T b2 = ref Unsafe.Add(ref b, 2 * panel);
        ref T b3 = ref Unsafe.Add(ref b, 3 * panel);
        TV c00 = default, c01 = default, c02 = default, c03 = default, c04 = default, c05 = default, c06 = default, c07 = default;
        TV c10 = default, c11 = default, c12 = default, c13 = default, c14 = default, c15 = default, c16 = default, c17 = default;
        for (int k = 0; k < kc; k++)
        {
            TV x0 = TS.Load(ref b0);
            TV x1 = TS.Load(ref Unsafe.Add(ref b0, w));
            TV x2 = TS.Load(ref b1);
            TV x3 = TS.Load(ref Unsafe.Add(ref b1, w));
            TV x4 = TS.Load(ref b2);
            TV x5 = TS.Load(ref Unsafe.Add(ref b2, w));
            TV x6 = TS.Load(ref b3);
            TV x7 = TS.Load(ref Unsafe.Add(ref b3, w));
            TV av = TS.Broadcast(a);
            c00 = TS.MulAdd(av, x0, c00);
            c01 = TS.MulAdd(av, x1, c01);
            c02 = TS.MulAdd(av, x2, c02);
            c03 = TS.MulAdd(av, x3, c03);
            c04 = TS.MulAdd(av, x4, c04);
            c05 = TS.MulAdd(av, x5, c05);
            c06 = TS.MulAdd(av, x6, c06);
            c07 = TS.MulAdd(av, x7, c07);
            if (TRows.Value > 1)
            {
                av = TS.Broadcast(Unsafe.Add(ref a, aRow));
                c10 = TS.MulAdd(av, x0, c10);
                c11 = TS.MulAdd(av, x1, c11);
                c12 = TS.MulAdd(av, x2, c12);
                c13 = TS.MulAdd(av, x3, c13);
                c14 = TS.MulAdd(av, x4, c14);
                c15 = TS.MulAdd(av, x5, c15);
                c16 = TS.MulAdd(av, x6, c16);
                c17 = TS.MulAdd(av, x7, c17);
            }

            a = ref Unsafe.Add(ref a, aStep);
            b0 = ref Unsafe.Add(ref b0, step);
            b1 = ref Unsafe.Add(ref b1, step);
            b2 = ref Unsafe.Add(ref b2, step);
            b3 = ref Unsafe.Add(ref b3, step);
        }

        nint t = MR * nr;
        TS.Store(c00, ref tile);
        TS.Store(c01, ref Unsafe.Add(ref tile, w));
        TS.Store(c02, ref Unsafe.Add(ref tile, t));
        TS.Store(c03, ref Unsafe.Add(ref tile, t + w));
        TS.Store(c04, ref Unsafe.Add(ref tile, 2 * t));
        TS.Store(c05, ref Unsafe.Add(ref tile, 2 * t + w));
        TS.Store(c06, ref Unsafe.Add(ref tile, 3 * t));
        TS.Store(c07, ref Unsafe.Add(ref tile, 3 * t + w));
        if (TRows.Value > 1)
        {
            TS.Store(c10, ref Unsafe.Add(ref tile, nr));
            TS.Store(c11, ref Unsafe.Add(ref tile, nr + w));
            TS.Store(c12, ref Unsafe.Add(ref tile, t + nr));
            TS.Store(c13, ref Unsafe.Add(ref tile, t + nr + w));
            TS.Store(c14, ref Unsafe.Add(ref tile, 2 * t + nr));
            TS.Store(c15, ref Unsafe.Add(ref tile, 2 * t + nr + w));
            TS.Store(c16, ref Unsafe.Add(ref tile, 3 * t + nr));
            TS.Store(c17, ref Unsafe.Add(ref tile, 3 * t + nr + w));
        }
    }

    /// <summary>
    /// Runs <see cref="Kernel{T, TV, TS, TRows, TPanels}"/> for <paramref name="rows"/> (1 … MR)
    /// valid rows of the A panel and one or two B panels.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void KernelFor<T, TV, TS>(int rows, bool twoPanels, int kc, ref T a, nint aRow, nint aStep, ref T b0, ref T b1, ref T tile)
        where T : unmanaged
        where TV : struct
        where TS : ISimd<T, TV>
    {
        if (twoPanels)
            KernelForRows<T, TV, TS, C2>(rows, kc, ref a, aRow, aStep, ref b0, ref b1, ref tile);
        else
            KernelForRows<T, TV, TS, C1>(rows, kc, ref a, aRow, aStep, ref b0, ref b1, ref tile);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void KernelForRows<T, TV, TS, TPanels>(int rows, int kc, ref T a, nint aRow, nint aStep, ref T b0, ref T b1, ref T tile)
        where T : unmanaged
        where TV : struct
        where TS : ISimd<T, TV>
        where TPanels : struct, IConstant
    {
        switch (rows)
        {
            case 1: Kernel<T, TV, TS, C1, TPanels>(kc, ref a, aRow, aStep, ref b0, ref b1, ref tile); break;
            case 2: Kernel<T, TV, TS, C2, TPanels>(kc, ref a, aRow, aStep, ref b0, ref b1, ref tile); break;
            case 3: Kernel<T, TV, TS, C3, TPanels>(kc, ref a, aRow, aStep, ref b0, ref b1, ref tile); break;
            case 4: Kernel<T, TV, TS, C4, TPanels>(kc, ref a, aRow, aStep, ref b0, ref b1, ref tile); break;
            case 5: Kernel<T, TV, TS, C5, TPanels>(kc, ref a, aRow, aStep, ref b0, ref b1, ref tile); break;
            default: Kernel<T, TV, TS, C6, TPanels>(kc, ref a, aRow, aStep, ref b0, ref b1, ref tile); break;
        }
    }
}

using System.Runtime.CompilerServices;
using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// The pieces of the host GEMM (BLIS's recipe): packing op(A) and op(B) into panels, the
/// register-blocked micro-kernel, and the update of C from its accumulators.
/// </summary>
/// <remarks>
/// <code>
/// for jc in N by NC:                         packed B block  [KC, NC] (L3), panels of NR columns
///   for pc in K by KC:
///     pack op(B)[pc:pc+kc, jc:jc+nc]
///     for ic in M by MC:                     packed A block  [MC, KC] (L2), panels of MR rows
///       pack op(A)[ic:ic+mc, pc:pc+kc]
///       for each NR panel of B (stays in L1), for each MR panel of A:
///         micro-kernel: MR×NR accumulators in registers, kc rank-1 updates by FMA
///         C[tile] = α·acc + (pc == 0 ? β·C : C)      (β = 0 never reads C)
/// </code>
/// MR = 6 rows and NR = 2 registers of columns: 12 accumulators, 2 B registers and a broadcast
/// of A use 15 of the 16 (AVX2) or 32 (AVX-512) vector registers. Panels are zero-padded at the
/// edges, so the micro-kernel has no edge cases; the update writes only the valid part.
/// </remarks>
internal static class HostGemm
{
    /// <summary>Rows of the micro-kernel's register block.</summary>
    public const int MR = 6;

    /// <summary>Depth of one K block (a B panel of KC × NR stays in L1).</summary>
    public const int KC = 256;

    /// <summary>Rows of one packed A block (about 512 KiB: half of a Zen 5 core's L2).</summary>
    public static int MC<T>() where T : unmanaged => (512 * 1024 / (KC * Unsafe.SizeOf<T>())) / MR * MR;

    /// <summary>Columns of one packed B block (about 4 MiB, in L3).</summary>
    public static int NC<T>() where T : unmanaged => 4 * 1024 * 1024 / (KC * Unsafe.SizeOf<T>());

    /// <summary>
    /// Packs op(A)[row0 : row0+rows, k0 : k0+kc] as panels of MR rows: panel p holds, for each k,
    /// the MR values of rows p·MR … p·MR+MR-1 (zeros past the last row).
    /// </summary>
    public static void PackA<T>(GemmShape s, ReadOnlySpan<T> a, int row0, int rows, int k0, int kc, Span<T> packed) where T : unmanaged
    {
        int panels = (rows + MR - 1) / MR;
        for (int p = 0; p < panels; p++)
        {
            var dst = packed.Slice(p * MR * kc, MR * kc);
            int valid = Math.Min(MR, rows - p * MR);
            if (valid < MR)
                dst.Clear();
            int r0 = row0 + p * MR;
            if (s.TransA != 0)
            {
                // A stored [K, M]: the MR values of one k are contiguous.
                for (int k = 0; k < kc; k++)
                    a.Slice((k0 + k) * s.Lda + r0, valid).CopyTo(dst.Slice(k * MR, valid));
            }
            else
            {
                for (int r = 0; r < valid; r++)
                {
                    var src = a.Slice((r0 + r) * s.Lda + k0, kc);
                    for (int k = 0; k < kc; k++)
                        dst[k * MR + r] = src[k];
                }
            }
        }
    }

    /// <summary>
    /// Packs op(B)[k0 : k0+kc, col0 : col0+cols] as panels of nr columns: panel p holds, for each
    /// k, the nr values of columns p·nr … p·nr+nr-1 (zeros past the last column).
    /// </summary>
    public static void PackB<T>(GemmShape s, ReadOnlySpan<T> b, int k0, int kc, int col0, int cols, int nr, Span<T> packed) where T : unmanaged
    {
        int panels = (cols + nr - 1) / nr;
        for (int p = 0; p < panels; p++)
        {
            var dst = packed.Slice(p * nr * kc, nr * kc);
            int valid = Math.Min(nr, cols - p * nr);
            if (valid < nr)
                dst.Clear();
            int c0 = col0 + p * nr;
            if (s.TransB != 0)
            {
                // B stored [N, K]: one column of op(B) is a contiguous row of B.
                for (int j = 0; j < valid; j++)
                {
                    var src = b.Slice((c0 + j) * s.Ldb + k0, kc);
                    for (int k = 0; k < kc; k++)
                        dst[k * nr + j] = src[k];
                }
            }
            else
            {
                for (int k = 0; k < kc; k++)
                    b.Slice((k0 + k) * s.Ldb + c0, valid).CopyTo(dst.Slice(k * nr, valid));
            }
        }
    }

    /// <summary>
    /// The micro-kernel: tile[MR, 2·Count] = Σ_k a[k, 0:MR]ᵀ · b[k, 0:2·Count] over kc steps of
    /// packed panels, the 12 accumulators held in registers.
    /// </summary>
    /// <param name="kc">Steps.</param>
    /// <param name="a">Packed A panel: kc × MR.</param>
    /// <param name="b">Packed B panel: kc × 2·Count.</param>
    /// <param name="tile">Out: MR × 2·Count accumulators, row-major.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MicroKernel<T, TV, TS>(int kc, ref T a, ref T b, ref T tile)
        where T : unmanaged
        where TV : struct
        where TS : ISimd<T, TV>
    {
        int w = TS.Count;
        int nr = 2 * w;
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        TV c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int k = 0; k < kc; k++)
        {
            TV b0 = TS.Load(ref b);
            TV b1 = TS.Load(ref Unsafe.Add(ref b, w));
            TV av = TS.Broadcast(a);
            c00 = TS.MulAdd(av, b0, c00);
            c01 = TS.MulAdd(av, b1, c01);
            av = TS.Broadcast(Unsafe.Add(ref a, 1));
            c10 = TS.MulAdd(av, b0, c10);
            c11 = TS.MulAdd(av, b1, c11);
            av = TS.Broadcast(Unsafe.Add(ref a, 2));
            c20 = TS.MulAdd(av, b0, c20);
            c21 = TS.MulAdd(av, b1, c21);
            av = TS.Broadcast(Unsafe.Add(ref a, 3));
            c30 = TS.MulAdd(av, b0, c30);
            c31 = TS.MulAdd(av, b1, c31);
            av = TS.Broadcast(Unsafe.Add(ref a, 4));
            c40 = TS.MulAdd(av, b0, c40);
            c41 = TS.MulAdd(av, b1, c41);
            av = TS.Broadcast(Unsafe.Add(ref a, 5));
            c50 = TS.MulAdd(av, b0, c50);
            c51 = TS.MulAdd(av, b1, c51);
            a = ref Unsafe.Add(ref a, MR);
            b = ref Unsafe.Add(ref b, nr);
        }

        TS.Store(c00, ref tile);
        TS.Store(c01, ref Unsafe.Add(ref tile, w));
        TS.Store(c10, ref Unsafe.Add(ref tile, nr));
        TS.Store(c11, ref Unsafe.Add(ref tile, nr + w));
        TS.Store(c20, ref Unsafe.Add(ref tile, 2 * nr));
        TS.Store(c21, ref Unsafe.Add(ref tile, 2 * nr + w));
        TS.Store(c30, ref Unsafe.Add(ref tile, 3 * nr));
        TS.Store(c31, ref Unsafe.Add(ref tile, 3 * nr + w));
        TS.Store(c40, ref Unsafe.Add(ref tile, 4 * nr));
        TS.Store(c41, ref Unsafe.Add(ref tile, 4 * nr + w));
        TS.Store(c50, ref Unsafe.Add(ref tile, 5 * nr));
        TS.Store(c51, ref Unsafe.Add(ref tile, 5 * nr + w));
    }

    /// <summary>How a tile's accumulators are combined with C.</summary>
    public enum Update
    {
        /// <summary>C = α·acc (β = 0 on the first K block: C is not read).</summary>
        Overwrite,

        /// <summary>C = α·acc + C (β = 1, or any later K block).</summary>
        Accumulate,

        /// <summary>C = α·acc + β·C (other β on the first K block).</summary>
        Scale,
    }

    /// <summary>Writes the valid rows × cols of a tile into C.</summary>
    /// <param name="tile">MR × 2·Count accumulators.</param>
    /// <param name="c">C's element at the tile's corner.</param>
    /// <param name="ldc">C's row stride.</param>
    /// <param name="rows">Valid rows (≤ MR).</param>
    /// <param name="cols">Valid columns (≤ 2·Count).</param>
    /// <param name="alpha">α.</param>
    /// <param name="beta">β (used by <see cref="Update.Scale"/>).</param>
    /// <param name="mode">How to combine.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<T, TV, TS>(ref T tile, ref T c, int ldc, int rows, int cols, T alpha, T beta, Update mode)
        where T : unmanaged
        where TV : struct
        where TS : ISimd<T, TV>
    {
        int w = TS.Count;
        int nr = 2 * w;
        if (cols == nr)
        {
            TV va = TS.Broadcast(alpha);
            TV vb = TS.Broadcast(beta);
            for (int r = 0; r < rows; r++)
            {
                ref T t = ref Unsafe.Add(ref tile, r * nr);
                ref T d = ref Unsafe.Add(ref c, (nint)r * ldc);
                for (int v = 0; v < nr; v += w)
                {
                    TV acc = TS.Load(ref Unsafe.Add(ref t, v));
                    ref T dv = ref Unsafe.Add(ref d, v);
                    TV result = mode switch
                    {
                        Update.Overwrite => TS.Mul(va, acc),
                        Update.Accumulate => TS.MulAdd(va, acc, TS.Load(ref dv)),
                        _ => TS.MulAdd(va, acc, TS.Mul(vb, TS.Load(ref dv))),
                    };
                    TS.Store(result, ref dv);
                }
            }

            return;
        }

        for (int r = 0; r < rows; r++)
        {
            ref T t = ref Unsafe.Add(ref tile, r * nr);
            ref T d = ref Unsafe.Add(ref c, (nint)r * ldc);
            for (int j = 0; j < cols; j++)
            {
                T acc = Unsafe.Add(ref t, j);
                ref T dj = ref Unsafe.Add(ref d, j);
                dj = mode switch
                {
                    Update.Overwrite => Scalar<T>.Mul(alpha, acc),
                    Update.Accumulate => Scalar<T>.MulAdd(alpha, acc, dj),
                    _ => Scalar<T>.MulAdd(alpha, acc, Scalar<T>.Mul(beta, dj)),
                };
            }
        }
    }
}

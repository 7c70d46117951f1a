using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// The pieces of the host GEMM (BLIS's recipe): packing op(B) into panels, the
/// register-blocked micro-kernel, and the update of C from its accumulators.
/// </summary>
/// <remarks>
/// <code>
/// for jc in N by NC:                         packed B block  [KC, NC] (L3), panels of NR columns
///   for pc in K by KC:
///     pack op(B)[pc:pc+kc, jc:jc+nc]
///     for ic in M by MC:                     A block [MC, KC] (L2), panels of MR rows, read in place
///       for each NR panel of B (stays in L1), for each MR panel of A:
///         micro-kernel: MR×NR accumulators in registers, kc rank-1 updates by FMA
///         C[tile] = α·acc + (pc == 0 ? β·C : C)      (β = 0 never reads C)
/// </code>
/// MR = 6 rows and two panels of NR = 2 registers of columns: 24 accumulators, 4 B registers and
/// a broadcast of A use 29 of AVX-512's 32 vector registers (<see cref="Kernel"/>; blocks with
/// fewer rows or one panel run a variant with those accumulators removed). B's panels are
/// zero-padded at the edges and an A panel's kernel reads only its valid rows, so the kernel has
/// no edge cases; the update writes only the valid part. Products with few rows (a recurrent
/// step) take op(B) packed once from <see cref="PackedOperandCache{T}"/> instead of packing it
/// per call. Every product reads op(A) where it is stored instead of packing it (BLIS packs A for
/// the TLB and for unit-stride loads; here a panel's MR rows are MR streams along k, or MR
/// neighbours in one row of A per step when A is transposed): the same sums, and faster at the
/// LSTM's shapes.
/// </remarks>
internal static partial class CpuGemm
{
    /// <summary>Rows of the micro-kernel's register block.</summary>
    public const int MR = 6;

    /// <summary>Depth of one K block (a B panel of KC × NR stays in L1).</summary>
    public const int KC = 256;

    /// <summary>Rows of one A block (about 512 KiB: half of a Zen 5 core's L2).</summary>
    public static int MC<T>() where T : unmanaged => (512 * 1024 / (KC * Unsafe.SizeOf<T>())) / MR * MR;

    /// <summary>Columns of one packed B block (about 4 MiB, in L3).</summary>
    public static int NC<T>() where T : unmanaged => 4 * 1024 * 1024 / (KC * Unsafe.SizeOf<T>());

    /// <summary>
    /// Packs op(B)[k0 : k0+kc, col0 : col0+cols] as panels of nr columns, panels [p0, p1) of
    /// them: panel p holds, for each k, the nr values of columns p·nr … p·nr+nr-1 (zeros past the
    /// last column).
    /// </summary>
    /// <param name="s">The GEMM (B's transpose and stride).</param>
    /// <param name="b">B as stored; the caller has checked that the block lies inside it.</param>
    /// <param name="k0">First row of op(B).</param>
    /// <param name="kc">Rows of the block.</param>
    /// <param name="col0">First column of op(B).</param>
    /// <param name="cols">Columns of the block.</param>
    /// <param name="nr">Columns per panel.</param>
    /// <param name="p0">First panel to pack.</param>
    /// <param name="p1">One past the last panel.</param>
    /// <param name="packed">The block's panels: panel p at p·nr·kc.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB<T>(GemmShape s, ReadOnlySpan<T> b, int k0, int kc, int col0, int cols, int nr, int p0, int p1, Span<T> packed) where T : unmanaged
    {
        ref T src = ref MemoryMarshal.GetReference(b);
        for (int p = p0; p < p1; p++)
        {
            var dst = packed.Slice(p * nr * kc, nr * kc);
            ref T d = ref MemoryMarshal.GetReference(dst);
            int valid = Math.Min(nr, cols - p * nr);
            if (valid < nr)
                dst.Clear();
            int c0 = col0 + p * nr;
            if (s.TransB != 0)
            {
                // B stored [N, K]: one column of op(B) is a contiguous row of B; four rows side by side.
                int j = 0;
                for (; j + 4 <= valid; j += 4)
                {
                    ref T b0 = ref Unsafe.Add(ref src, (nint)(c0 + j) * s.Ldb + k0);
                    ref T b1 = ref Unsafe.Add(ref b0, s.Ldb);
                    ref T b2 = ref Unsafe.Add(ref b0, 2 * (nint)s.Ldb);
                    ref T b3 = ref Unsafe.Add(ref b0, 3 * (nint)s.Ldb);
                    for (int k = 0; k < kc; k++)
                    {
                        ref T to = ref Unsafe.Add(ref d, k * nr + j);
                        to = Unsafe.Add(ref b0, k);
                        Unsafe.Add(ref to, 1) = Unsafe.Add(ref b1, k);
                        Unsafe.Add(ref to, 2) = Unsafe.Add(ref b2, k);
                        Unsafe.Add(ref to, 3) = Unsafe.Add(ref b3, k);
                    }
                }

                for (; j < valid; j++)
                {
                    ref T row = ref Unsafe.Add(ref src, (nint)(c0 + j) * s.Ldb + k0);
                    for (int k = 0; k < kc; k++)
                        Unsafe.Add(ref d, k * nr + j) = Unsafe.Add(ref row, k);
                }
            }
            else
            {
                // B stored [K, N]: each k's nr values are contiguous.
                ref T row = ref Unsafe.Add(ref src, (nint)k0 * s.Ldb + c0);
                for (int k = 0; k < kc; k++)
                {
                    MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref row, (nint)k * s.Ldb), valid)
                        .CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref d, k * nr), valid));
                }
            }
        }
    }

    /// <summary>A compile-time integer for a generic argument (the JIT specializes on struct arguments).</summary>
    public interface IConstant
    {
        /// <summary>The value.</summary>
        static abstract int Value { get; }
    }

    /// <summary>1.</summary>
    public readonly struct C1 : IConstant
    {
        /// <inheritdoc/>
        public static int Value => 1;
    }

    /// <summary>2.</summary>
    public readonly struct C2 : IConstant
    {
        /// <inheritdoc/>
        public static int Value => 2;
    }

    /// <summary>3.</summary>
    public readonly struct C3 : IConstant
    {
        /// <inheritdoc/>
        public static int Value => 3;
    }

    /// <summary>4.</summary>
    public readonly struct C4 : IConstant
    {
        /// <inheritdoc/>
        public static int Value => 4;
    }

    /// <summary>5.</summary>
    public readonly struct C5 : IConstant
    {
        /// <inheritdoc/>
        public static int Value => 5;
    }

    /// <summary>6.</summary>
    public readonly struct C6 : IConstant
    {
        /// <inheritdoc/>
        public static int Value => 6;
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

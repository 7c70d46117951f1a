using System.Runtime.CompilerServices;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// The host GEMM for op(A) = A and op(B) = Bᵀ with few rows (the LSTM's per-step recurrent
/// product h_{t-1} W_hhᵀ, [B, H] × [H, 4H] with W_hh stored [4H, H]): every element of C is a dot
/// product of two contiguous rows, so nothing is packed and W_hh is read once per call.
/// </summary>
/// <remarks>
/// A register block of 4 rows of A × 2 rows of B keeps 8 vector accumulators over K (4 + 2 loads
/// per 8 FMAs), then reduces each across its lanes; the last m mod 4 rows run one row of A against
/// 4 rows of B (5 loads per 4 FMAs). A short edge of B reuses the block's first row
/// (column of C); the duplicate results are not stored. K's tail past the last full vector is scalar.
/// </remarks>
internal static class HostGemmDot
{
    /// <summary>Rows of A per register block.</summary>
    public const int Rows = 4;

    /// <summary>Rows of B (columns of C) per register block.</summary>
    public const int Cols = 2;

    /// <summary>
    /// C[r, n] = α·Σ_k A[r, k]·B[n, k] (+ β·C[r, n]) for rows [0, m) and columns [n0, n1).
    /// </summary>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="n0">First column of C (row of B).</param>
    /// <param name="n1">One past the last column.</param>
    /// <param name="k">The inner dimension.</param>
    /// <param name="a">A[0, 0], rows of stride <paramref name="lda"/>.</param>
    /// <param name="lda">A's row stride.</param>
    /// <param name="b">B[0, 0], rows of stride <paramref name="ldb"/>.</param>
    /// <param name="ldb">B's row stride.</param>
    /// <param name="c">C[0, 0], rows of stride <paramref name="ldc"/>.</param>
    /// <param name="ldc">C's row stride.</param>
    /// <param name="alpha">α.</param>
    /// <param name="beta">β.</param>
    /// <param name="mode">How the sums combine with C.</param>
    public static void Run<T, TV, TS>(
        int m, int n0, int n1, int k, ref T a, int lda, ref T b, int ldb, ref T c, int ldc, T alpha, T beta, HostGemm.Update mode)
        where T : unmanaged
        where TV : struct
        where TS : ISimd<T, TV>
    {
        Span<T> sums = stackalloc T[Rows * Cols];
        int fullRows = m / Rows * Rows;
        for (int n = n0; n < n1; n += Cols)
        {
            int cols = Math.Min(Cols, n1 - n);
            ref T b0 = ref Unsafe.Add(ref b, (nint)n * ldb);
            ref T b1 = ref cols > 1 ? ref Unsafe.Add(ref b0, ldb) : ref b0;
            for (int r = 0; r < fullRows; r += Rows)
            {
                int rows = Math.Min(Rows, m - r);
                ref T a0 = ref Unsafe.Add(ref a, (nint)r * lda);
                ref T a1 = ref rows > 1 ? ref Unsafe.Add(ref a0, lda) : ref a0;
                ref T a2 = ref rows > 2 ? ref Unsafe.Add(ref a0, 2 * lda) : ref a0;
                ref T a3 = ref rows > 3 ? ref Unsafe.Add(ref a0, 3 * lda) : ref a0;
                Block<T, TV, TS>(k, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, sums);
                for (int i = 0; i < rows; i++)
                {
                    for (int j = 0; j < cols; j++)
                    {
                        ref T dst = ref Unsafe.Add(ref c, (nint)(r + i) * ldc + n + j);
                        T acc = sums[i * Cols + j];
                        dst = mode switch
                        {
                            HostGemm.Update.Overwrite => Scalar<T>.Mul(alpha, acc),
                            HostGemm.Update.Accumulate => Scalar<T>.MulAdd(alpha, acc, dst),
                            _ => Scalar<T>.MulAdd(alpha, acc, Scalar<T>.Mul(beta, dst)),
                        };
                    }
                }
            }
        }

        // The last m mod 4 rows: one row of A against 4 rows of B at a time, so a short edge
        // (batch 1 above all) costs no duplicate products.
        for (int r = fullRows; r < m; r++)
        {
            ref T ar = ref Unsafe.Add(ref a, (nint)r * lda);
            ref T cr = ref Unsafe.Add(ref c, (nint)r * ldc);
            for (int n = n0; n < n1; n += RowCols)
            {
                int cols = Math.Min(RowCols, n1 - n);
                ref T b0 = ref Unsafe.Add(ref b, (nint)n * ldb);
                ref T b1 = ref cols > 1 ? ref Unsafe.Add(ref b0, ldb) : ref b0;
                ref T b2 = ref cols > 2 ? ref Unsafe.Add(ref b0, 2 * ldb) : ref b0;
                ref T b3 = ref cols > 3 ? ref Unsafe.Add(ref b0, 3 * ldb) : ref b0;
                RowBlock<T, TV, TS>(k, ref ar, ref b0, ref b1, ref b2, ref b3, sums);
                for (int j = 0; j < cols; j++)
                {
                    ref T dst = ref Unsafe.Add(ref cr, n + j);
                    T acc = sums[j];
                    dst = mode switch
                    {
                        HostGemm.Update.Overwrite => Scalar<T>.Mul(alpha, acc),
                        HostGemm.Update.Accumulate => Scalar<T>.MulAdd(alpha, acc, dst),
                        _ => Scalar<T>.MulAdd(alpha, acc, Scalar<T>.Mul(beta, dst)),
                    };
                }
            }
        }
    }

    /// <summary>Rows of B (columns of C) per block of a single row of A.</summary>
    private const int RowCols = 4;

    /// <summary>
    /// The 1 × 4 dot products of row a with rows b0..b3 over k elements, summed in the same order
    /// as <see cref="Block"/> (lanes, then their sum, then the scalar tail).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowBlock<T, TV, TS>(int k, ref T a, ref T b0, ref T b1, ref T b2, ref T b3, Span<T> sums)
        where T : unmanaged
        where TV : struct
        where TS : ISimd<T, TV>
    {
        int w = TS.Count;
        TV s0 = default, s1 = default, s2 = default, s3 = default;
        int kk = 0;
        for (; kk <= k - w; kk += w)
        {
            TV va = TS.Load(ref Unsafe.Add(ref a, kk));
            s0 = TS.MulAdd(va, TS.Load(ref Unsafe.Add(ref b0, kk)), s0);
            s1 = TS.MulAdd(va, TS.Load(ref Unsafe.Add(ref b1, kk)), s1);
            s2 = TS.MulAdd(va, TS.Load(ref Unsafe.Add(ref b2, kk)), s2);
            s3 = TS.MulAdd(va, TS.Load(ref Unsafe.Add(ref b3, kk)), s3);
        }

        T t0 = TS.Sum(s0), t1 = TS.Sum(s1), t2 = TS.Sum(s2), t3 = TS.Sum(s3);
        for (; kk < k; kk++)
        {
            T y = Unsafe.Add(ref a, kk);
            t0 = Scalar<T>.MulAdd(y, Unsafe.Add(ref b0, kk), t0);
            t1 = Scalar<T>.MulAdd(y, Unsafe.Add(ref b1, kk), t1);
            t2 = Scalar<T>.MulAdd(y, Unsafe.Add(ref b2, kk), t2);
            t3 = Scalar<T>.MulAdd(y, Unsafe.Add(ref b3, kk), t3);
        }

        sums[0] = t0;
        sums[1] = t1;
        sums[2] = t2;
        sums[3] = t3;
    }

    /// <summary>The 4 × 2 dot products of rows a0..a3 with rows b0, b1 over k elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block<T, TV, TS>(int k, ref T a0, ref T a1, ref T a2, ref T a3, ref T b0, ref T b1, Span<T> sums)
        where T : unmanaged
        where TV : struct
        where TS : ISimd<T, TV>
    {
        int w = TS.Count;
        TV s00 = default, s01 = default, s10 = default, s11 = default;
        TV s20 = default, s21 = default, s30 = default, s31 = default;
        int kk = 0;
        for (; kk <= k - w; kk += w)
        {
            TV vb0 = TS.Load(ref Unsafe.Add(ref b0, kk));
            TV vb1 = TS.Load(ref Unsafe.Add(ref b1, kk));
            TV va = TS.Load(ref Unsafe.Add(ref a0, kk));
            s00 = TS.MulAdd(va, vb0, s00);
            s01 = TS.MulAdd(va, vb1, s01);
            va = TS.Load(ref Unsafe.Add(ref a1, kk));
            s10 = TS.MulAdd(va, vb0, s10);
            s11 = TS.MulAdd(va, vb1, s11);
            va = TS.Load(ref Unsafe.Add(ref a2, kk));
            s20 = TS.MulAdd(va, vb0, s20);
            s21 = TS.MulAdd(va, vb1, s21);
            va = TS.Load(ref Unsafe.Add(ref a3, kk));
            s30 = TS.MulAdd(va, vb0, s30);
            s31 = TS.MulAdd(va, vb1, s31);
        }

        T t00 = TS.Sum(s00), t01 = TS.Sum(s01), t10 = TS.Sum(s10), t11 = TS.Sum(s11);
        T t20 = TS.Sum(s20), t21 = TS.Sum(s21), t30 = TS.Sum(s30), t31 = TS.Sum(s31);
        for (; kk < k; kk++)
        {
            T x0 = Unsafe.Add(ref b0, kk);
            T x1 = Unsafe.Add(ref b1, kk);
            T y = Unsafe.Add(ref a0, kk);
            t00 = Scalar<T>.MulAdd(y, x0, t00);
            t01 = Scalar<T>.MulAdd(y, x1, t01);
            y = Unsafe.Add(ref a1, kk);
            t10 = Scalar<T>.MulAdd(y, x0, t10);
            t11 = Scalar<T>.MulAdd(y, x1, t11);
            y = Unsafe.Add(ref a2, kk);
            t20 = Scalar<T>.MulAdd(y, x0, t20);
            t21 = Scalar<T>.MulAdd(y, x1, t21);
            y = Unsafe.Add(ref a3, kk);
            t30 = Scalar<T>.MulAdd(y, x0, t30);
            t31 = Scalar<T>.MulAdd(y, x1, t31);
        }

        sums[0] = t00;
        sums[1] = t01;
        sums[2] = t10;
        sums[3] = t11;
        sums[4] = t20;
        sums[5] = t21;
        sums[6] = t30;
        sums[7] = t31;
    }
}

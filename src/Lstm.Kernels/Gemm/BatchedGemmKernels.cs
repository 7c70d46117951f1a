using ILGPU;

namespace Lstm.Kernels.Gemm;

/// <summary>
/// Many small products of one shape in one launch (attention's per-batch-row products), where
/// a launch per product would cost more than the product.
/// </summary>
internal static class BatchedGemmKernels
{
    /// <summary>
    /// A batch of products with one shape: C_i = α·op(A_i)·op(B_i) + β·C_i for i &lt; batch, each
    /// operand i at i times its batch stride (the per-row products of attention, [U, H]·[H, S]
    /// and the like). One thread per element of C, its sum over K in order; β = 0 does not read C.
    /// </summary>
    /// <param name="index">Element (i, row, col) of the batch of C, flat.</param>
    /// <param name="a">The A_i as stored.</param>
    /// <param name="b">The B_i as stored.</param>
    /// <param name="c">The C_i.</param>
    /// <param name="shape">Sizes, leading dimensions and transposes of one product.</param>
    /// <param name="strideA">Elements from A_i to A_{i+1}.</param>
    /// <param name="strideB">Elements from B_i to B_{i+1}.</param>
    /// <param name="strideC">Elements from C_i to C_{i+1}.</param>
    /// <param name="alpha">Scale of the products.</param>
    /// <param name="beta">Scale of the old C.</param>
    /// <param name="batch">Products.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void Batched<T, TOps>(
        Index1D index, ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, GemmShape shape, long strideA, long strideB, long strideC, T alpha, T beta, int batch, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        int m = shape.M, n = shape.N;
        long total = (long)batch * m * n;
        bool readC = ops.Greater(beta, ops.Zero) || ops.Greater(ops.Zero, beta);
        for (long e = index; e < total; e += stride)
        {
            int col = (int)(e % n);
            long rest = e / n;
            int row = (int)(rest % m);
            long i = rest / m;
            long a0 = i * strideA, b0 = i * strideB;
            T acc = ops.Zero;
            for (int k = 0; k < shape.K; k++)
            {
                T x = shape.TransA != 0 ? a[a0 + (long)k * shape.Lda + row] : a[a0 + (long)row * shape.Lda + k];
                T y = shape.TransB != 0 ? b[b0 + (long)col * shape.Ldb + k] : b[b0 + (long)k * shape.Ldb + col];
                acc = ops.MulAdd(x, y, acc);
            }

            long ci = i * strideC + (long)row * shape.Ldc + col;
            c[ci] = readC ? ops.MulAdd(beta, c[ci], ops.Mul(alpha, acc)) : ops.Mul(alpha, acc);
        }
    }
}

using ILGPU;

namespace Lstm.Kernels.Gemm;

/// <summary>
/// The portable GEMM at a chosen <see cref="GemmRounding"/>: the tensor cores' rounding of the
/// operands emulated with float32 arithmetic, one thread per output like
/// <see cref="GemmKernels.RowDot{T, TOps}"/>. It runs on every back end and is the fallback of the
/// <see cref="TensorCoreGemmKernels"/> where there are no tensor cores (OpenCL, ILGPU's CPU
/// accelerator with narrow warps).
/// </summary>
/// <remarks>
/// <para>Each output is Σ_k <see cref="ReducedPrecision.MulAdd"/> in k order from 0, then
/// C = α·sum (β = 0) or β·C + α·sum. <c>PrecisionReference.Gemm</c> (Lstm.Runtime) is the same
/// loop on the host, equal bit for bit on ILGPU's CPU accelerator.</para>
/// <para>The tensor cores sum a k-step's products in an order (and with an internal precision)
/// that PTX does not specify, so this kernel is not bit-exact with them: the two agree within
/// the float32 accumulation error, about K·2^-24 of Σ_k |a·b|.</para>
/// </remarks>
internal static class PrecisionGemmKernels
{
    /// <summary>
    /// C = α·op(A)·op(B) + β·C with products at <paramref name="precision"/>: thread
    /// <paramref name="index"/> computes elements index, index + stride, ... of C in row-major
    /// order (M·N in all).
    /// </summary>
    /// <remarks>
    /// Launch implicitly grouped with any number of threads and pass that number as
    /// <paramref name="stride"/> (see <see cref="Threads"/>). No shared memory, no barriers.
    /// </remarks>
    /// <param name="index">The thread.</param>
    /// <param name="a">A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="c">C, [M, Ldc].</param>
    /// <param name="shape">Sizes, strides and transposes.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="beta">Scale of the old C (0: C is not read).</param>
    /// <param name="precision">A <see cref="GemmRounding"/> as an int.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void RowDot(
        Index1D index, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmShape shape, float alpha, float beta, int precision, int stride)
    {
        long count = (long)shape.M * shape.N;
        for (long e = index; e < count; e += stride)
        {
            int row = (int)(e / shape.N);
            int col = (int)(e - (long)row * shape.N);
            float acc = 0f;
            for (int k = 0; k < shape.K; k++)
            {
                float av = shape.TransA != 0 ? a[(long)k * shape.Lda + row] : a[(long)row * shape.Lda + k];
                float bv = shape.TransB != 0 ? b[(long)col * shape.Ldb + k] : b[(long)k * shape.Ldb + col];
                acc = ReducedPrecision.MulAdd(precision, av, bv, acc);
            }

            long idx = (long)row * shape.Ldc + col;
            c[idx] = Scale(acc, alpha, beta, beta == 0f ? 0f : c[idx]);
        }
    }

    /// <summary>The threads to launch <see cref="RowDot"/> with: one per output, at most <paramref name="maxThreads"/>.</summary>
    /// <param name="shape">The product's shape.</param>
    /// <param name="maxThreads">The most threads worth launching on the device.</param>
    public static int Threads(GemmShape shape, int maxThreads) =>
        (int)Math.Max(1, Math.Min((long)shape.M * shape.N, maxThreads));

    /// <summary>The stored value: α·acc when β = 0 (old C not read), else β·old + α·acc.</summary>
    /// <param name="acc">The dot product.</param>
    /// <param name="alpha">α.</param>
    /// <param name="beta">β.</param>
    /// <param name="old">The old C (ignored when β = 0).</param>
    public static float Scale(float acc, float alpha, float beta, float old) =>
        beta == 0f ? alpha * acc : beta * old + alpha * acc;
}

using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Reference;

/// <summary>
/// The host twin of <see cref="PrecisionGemmKernels.RowDot"/>: the reduced-precision GEMM as a
/// plain float32 loop, the reference its kernels are tested against.
/// </summary>
public static class PrecisionReference
{
    /// <summary>
    /// C = α·op(A)·op(B) + β·C with products at <paramref name="precision"/> and float32 sums in
    /// k order (<see cref="ReducedPrecision.MulAdd"/>); β = 0 ignores C's old values.
    /// </summary>
    /// <remarks>
    /// Bit for bit what <see cref="PrecisionGemmKernels.RowDot"/> and, on ILGPU's CPU
    /// accelerator, the <see cref="TensorCoreGemmKernels"/> compute; tensor cores differ from it
    /// within float32 accumulation error.
    /// </remarks>
    /// <param name="precision">The precision.</param>
    /// <param name="shape">Sizes, strides and transposes.</param>
    /// <param name="alpha">α.</param>
    /// <param name="a">A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="beta">β.</param>
    /// <param name="c">C, updated.</param>
    public static void Gemm(GemmPrecision precision, GemmShape shape, float alpha, ReadOnlySpan<float> a, ReadOnlySpan<float> b, float beta, Span<float> c)
    {
        for (int i = 0; i < shape.M; i++)
        {
            for (int j = 0; j < shape.N; j++)
            {
                float acc = 0f;
                for (int k = 0; k < shape.K; k++)
                {
                    float av = shape.TransA != 0 ? a[k * shape.Lda + i] : a[i * shape.Lda + k];
                    float bv = shape.TransB != 0 ? b[j * shape.Ldb + k] : b[k * shape.Ldb + j];
                    acc = ReducedPrecision.MulAdd((int)precision, av, bv, acc);
                }

                int idx = i * shape.Ldc + j;
                c[idx] = PrecisionGemmKernels.Scale(acc, alpha, beta, beta == 0f ? 0f : c[idx]);
            }
        }
    }
}

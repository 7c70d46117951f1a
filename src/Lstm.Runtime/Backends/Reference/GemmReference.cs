using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Reference;

/// <summary>
/// The reference of the GEMM kernels: C = α·op(A)·op(B) + β·C in float64, written straight from
/// the definition with no blocking, the product every device's GEMM is checked against.
/// </summary>
public static class GemmReference
{
    /// <summary>C = α·op(A)·op(B) + β·C in float64 (β = 0 ignores C's old values).</summary>
    /// <param name="shape">Sizes, strides and transposes.</param>
    /// <param name="alpha">α.</param>
    /// <param name="a">A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="beta">β.</param>
    /// <param name="c">C, updated.</param>
    public static void Gemm(GemmShape shape, double alpha, ReadOnlySpan<double> a, ReadOnlySpan<double> b, double beta, Span<double> c)
    {
        for (int i = 0; i < shape.M; i++)
        {
            for (int j = 0; j < shape.N; j++)
            {
                double s = 0;
                for (int k = 0; k < shape.K; k++)
                {
                    double av = shape.TransA != 0 ? a[k * shape.Lda + i] : a[i * shape.Lda + k];
                    double bv = shape.TransB != 0 ? b[j * shape.Ldb + k] : b[k * shape.Ldb + j];
                    s += av * bv;
                }

                int idx = i * shape.Ldc + j;
                c[idx] = beta == 0 ? alpha * s : alpha * s + beta * c[idx];
            }
        }
    }
}

using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends;

/// <summary>Matrix products (row-major operands, strided, optionally transposed).</summary>
/// <typeparam name="T">float or double.</typeparam>
public interface IGemmOps<T> where T : unmanaged
{
    /// <summary>C = α·op(A)·op(B) + β·C (see <see cref="GemmShape"/> for the layout).</summary>
    /// <param name="shape">Sizes, strides and transposes.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="beta">Scale of the old C; 0 overwrites C without reading it.</param>
    /// <param name="c">C.</param>
    void Gemm(GemmShape shape, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c);

    /// <summary>
    /// Some rows of a larger GEMM: C = α·A·op(B) + β·C where A and C are <paramref name="shape"/>.M
    /// consecutive rows of a product of <paramref name="wholeRows"/> rows with the same B, N and K.
    /// Each row comes out bit for bit as <see cref="Gemm"/> over the whole product computes it
    /// (a backend whose kernel depends on M picks it by <paramref name="wholeRows"/>), so a product
    /// can be issued block by block (the wavefront over layers) with the results of one call.
    /// </summary>
    /// <param name="shape">Sizes, strides and transposes of the part; op(A) must be A (rows contiguous).</param>
    /// <param name="wholeRows">M of the whole product (≥ shape.M).</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">The part's rows of A.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="beta">Scale of the old C; 0 overwrites C without reading it.</param>
    /// <param name="c">The part's rows of C.</param>
    /// <exception cref="LstmException">op(A) is transposed, or wholeRows is smaller than the part.</exception>
    void GemmRows(GemmShape shape, int wholeRows, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c);
}

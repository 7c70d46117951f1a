using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends;

/// <summary>
/// The parts of attention (see <see cref="Lstm.Kernels.AttentionKernels"/> and <see cref="BatchedGemmKernels"/>) that a single GEMM does
/// not cover: tanh and its backward, a softmax over each row's first columns and its backward,
/// clearing padded rows, Bahdanau's additive score with its backward, and a batch of products of
/// one shape (each batch row's scores and contexts in one call).
/// </summary>
/// <remarks>Lengths and masks are stored as exact integers of T, as the losses' targets are.</remarks>
/// <typeparam name="T">float or double.</typeparam>
public interface IAttentionOps<T> where T : unmanaged
{
    /// <summary>y = tanh(x) element by element.</summary>
    /// <param name="x">[n].</param>
    /// <param name="y">[n] out; may be x.</param>
    void Tanh(BufferSlice<T> x, BufferSlice<T> y);

    /// <summary>dx = dy·(1 − y²): the backward of y = tanh(x).</summary>
    /// <param name="y">[n] the forward's output.</param>
    /// <param name="dy">[n].</param>
    /// <param name="dx">[n] out; may be dy.</param>
    void TanhBackward(BufferSlice<T> y, BufferSlice<T> dy, BufferSlice<T> dx);

    /// <summary>
    /// y[r, :] = softmax of x[r, j] over the row's first lengths[r] columns, 0 in the others (scores
    /// masked to −∞); a row of length 0 is all zeros.
    /// </summary>
    /// <param name="rows">N.</param>
    /// <param name="cols">C.</param>
    /// <param name="x">[N, C].</param>
    /// <param name="lengths">[N] in [0, C].</param>
    /// <param name="y">[N, C] out; may be x.</param>
    void MaskedSoftmax(int rows, int cols, BufferSlice<T> x, BufferSlice<T> lengths, BufferSlice<T> y);

    /// <summary>dx[r, j] = y[r, j]·(dy[r, j] − Σ_k y[r, k]·dy[r, k]): the backward of a row softmax (masked or not).</summary>
    /// <param name="rows">N.</param>
    /// <param name="cols">C.</param>
    /// <param name="y">[N, C] the forward's output.</param>
    /// <param name="dy">[N, C].</param>
    /// <param name="dx">[N, C] out; may be dy.</param>
    void SoftmaxBackward(int rows, int cols, BufferSlice<T> y, BufferSlice<T> dy, BufferSlice<T> dx);

    /// <summary>y[r, :] = 0 for every row r whose mask is 0; the others unchanged.</summary>
    /// <param name="cols">C.</param>
    /// <param name="mask">[N] of 1 (kept) or 0 (cleared).</param>
    /// <param name="y">[N, C], updated.</param>
    void MaskRows(int cols, BufferSlice<T> mask, BufferSlice<T> y);

    /// <summary>scores[b, u, s] = Σ_a v[a]·tanh(q[b·U + u, a] + k[b·S + s, a]).</summary>
    /// <param name="batch">B.</param>
    /// <param name="queries">U.</param>
    /// <param name="keys">S.</param>
    /// <param name="width">A.</param>
    /// <param name="q">[B·U, A].</param>
    /// <param name="k">[B·S, A].</param>
    /// <param name="v">[A].</param>
    /// <param name="scores">[B, U, S] out.</param>
    void AdditiveScores(int batch, int queries, int keys, int width, BufferSlice<T> q, BufferSlice<T> k, BufferSlice<T> v, BufferSlice<T> scores);

    /// <summary>
    /// The backward of <see cref="AdditiveScores"/>: dq, dk and dv (each overwritten) from
    /// d loss / d scores.
    /// </summary>
    /// <param name="batch">B.</param>
    /// <param name="queries">U.</param>
    /// <param name="keys">S.</param>
    /// <param name="width">A.</param>
    /// <param name="q">[B·U, A].</param>
    /// <param name="k">[B·S, A].</param>
    /// <param name="v">[A].</param>
    /// <param name="dScores">[B, U, S].</param>
    /// <param name="dq">[B·U, A] out.</param>
    /// <param name="dk">[B·S, A] out.</param>
    /// <param name="dv">[A] out.</param>
    void AdditiveScoresBackward(
        int batch, int queries, int keys, int width, BufferSlice<T> q, BufferSlice<T> k, BufferSlice<T> v, BufferSlice<T> dScores,
        BufferSlice<T> dq, BufferSlice<T> dk, BufferSlice<T> dv);

    /// <summary>
    /// A batch of products of one shape: C_i = α·op(A_i)·op(B_i) + β·C_i for i &lt; batch, where
    /// operand i starts i times its stride after the slice's start (attention's per-row products
    /// in one call). β = 0 overwrites C without reading it.
    /// </summary>
    /// <param name="batch">Products.</param>
    /// <param name="shape">Sizes, leading dimensions and transposes of each product (see <see cref="GemmShape"/>).</param>
    /// <param name="strideA">Elements from A_i to A_{i+1}.</param>
    /// <param name="strideB">Elements from B_i to B_{i+1} (0: every product reads the same B).</param>
    /// <param name="strideC">Elements from C_i to C_{i+1}.</param>
    /// <param name="alpha">Scale of the products.</param>
    /// <param name="a">The A_i.</param>
    /// <param name="b">The B_i.</param>
    /// <param name="beta">Scale of the old C.</param>
    /// <param name="c">The C_i; products must not overlap.</param>
    void BatchedGemm(int batch, GemmShape shape, long strideA, long strideB, long strideC, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c);
}

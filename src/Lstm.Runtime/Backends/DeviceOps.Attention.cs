using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends;

/// <content>The attention operations: sizes not negative and every operand as long as its shape.</content>
internal abstract partial class DeviceOps<T>
{
    /// <inheritdoc/>
    public void Tanh(BufferSlice<T> x, BufferSlice<T> y)
    {
        if (x.Length != y.Length)
            throw new LstmException($"tanh of {x.Length} elements into a slice of {y.Length}");
        TanhCore(x, y);
    }

    /// <inheritdoc/>
    public void TanhBackward(BufferSlice<T> y, BufferSlice<T> dy, BufferSlice<T> dx)
    {
        if (y.Length != dy.Length || dx.Length != dy.Length)
            throw new LstmException($"tanh backward: y of {y.Length} elements, dy of {dy.Length}, dx of {dx.Length}");
        TanhBackwardCore(y, dy, dx);
    }

    /// <inheritdoc/>
    public void MaskedSoftmax(int rows, int cols, BufferSlice<T> x, BufferSlice<T> lengths, BufferSlice<T> y)
    {
        CheckRows("masked softmax", rows, cols, x, y);
        Require(lengths, rows, "lengths", "masked softmax");
        if (rows > 0 && cols > 0)
            MaskedSoftmaxCore(rows, cols, x, lengths, y);
    }

    /// <inheritdoc/>
    public void SoftmaxBackward(int rows, int cols, BufferSlice<T> y, BufferSlice<T> dy, BufferSlice<T> dx)
    {
        CheckRows("softmax backward", rows, cols, y, dy);
        Require(dx, (long)rows * cols, "dx", "softmax backward");
        if (rows > 0 && cols > 0)
            SoftmaxBackwardCore(rows, cols, y, dy, dx);
    }

    /// <inheritdoc/>
    public void MaskRows(int cols, BufferSlice<T> mask, BufferSlice<T> y)
    {
        if (y.Length == 0)
            return;
        if (cols <= 0 || y.Length % cols != 0)
            throw new LstmException($"mask rows: {y.Length} elements are not rows of {cols} columns");
        Require(mask, y.Length / cols, "mask", "mask rows");
        MaskRowsCore(cols, mask, y);
    }

    /// <inheritdoc/>
    public void AdditiveScores(int batch, int queries, int keys, int width, BufferSlice<T> q, BufferSlice<T> k, BufferSlice<T> v, BufferSlice<T> scores)
    {
        CheckAdditive("additive scores", batch, queries, keys, width, q, k, v);
        Require(scores, (long)batch * queries * keys, "scores [B, U, S]", "additive scores");
        if ((long)batch * queries * keys > 0)
            AdditiveScoresCore(batch, queries, keys, width, q, k, v, scores);
    }

    /// <inheritdoc/>
    public void AdditiveScoresBackward(
        int batch, int queries, int keys, int width, BufferSlice<T> q, BufferSlice<T> k, BufferSlice<T> v, BufferSlice<T> dScores,
        BufferSlice<T> dq, BufferSlice<T> dk, BufferSlice<T> dv)
    {
        const string op = "additive scores backward";
        CheckAdditive(op, batch, queries, keys, width, q, k, v);
        Require(dScores, (long)batch * queries * keys, "dScores [B, U, S]", op);
        Require(dq, (long)batch * queries * width, "dq [B·U, A]", op);
        Require(dk, (long)batch * keys * width, "dk [B·S, A]", op);
        Require(dv, width, "dv [A]", op);
        long outputs = (long)batch * ((long)queries + keys) * width + width;
        if (outputs > int.MaxValue)
            throw new LstmException($"{op}: B {batch}, U {queries}, S {keys}, A {width} exceed one launch");
        if (outputs > 0)
            AdditiveScoresBackwardCore(batch, queries, keys, width, q, k, v, dScores, dq, dk, dv);
    }

    /// <inheritdoc/>
    public void BatchedGemm(int batch, GemmShape shape, long strideA, long strideB, long strideC, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c)
    {
        const string op = "batched gemm";
        var (m, n, k) = (shape.M, shape.N, shape.K);
        if (batch < 0 || m < 0 || n < 0 || k < 0 || strideA < 0 || strideB < 0 || strideC < 0)
            throw new LstmException($"{op}: negative size (batch {batch}, M {m}, N {n}, K {k}) or stride (A {strideA}, B {strideB}, C {strideC})");
        if (batch == 0 || m == 0 || n == 0)
            return;
        if (shape.Ldc < n)
            throw new LstmException($"{op}: ldc {shape.Ldc} is smaller than N={n}");
        long cLength = (long)(m - 1) * shape.Ldc + n;
        if (batch > 1 && strideC < cLength)
            throw new LstmException($"{op}: C stride {strideC} is shorter than one product's C ({cLength} elements), so the products overlap");
        if ((long)batch * m * n > int.MaxValue)
            throw new LstmException($"{op}: {batch} products of [{m}, {n}] exceed one launch");
        long last = batch - 1;
        Require(c, last * strideC + cLength, "C", op);
        if (k > 0)
        {
            int aRows = shape.TransA != 0 ? k : m, aCols = shape.TransA != 0 ? m : k;
            int bRows = shape.TransB != 0 ? n : k, bCols = shape.TransB != 0 ? k : n;
            if (shape.Lda < aCols || shape.Ldb < bCols)
                throw new LstmException($"{op}: lda {shape.Lda} or ldb {shape.Ldb} is smaller than the row of A ({aCols}) or B ({bCols})");
            Require(a, last * strideA + (long)(aRows - 1) * shape.Lda + aCols, "A", op);
            Require(b, last * strideB + (long)(bRows - 1) * shape.Ldb + bCols, "B", op);
        }

        BatchedGemmCore(batch, shape, strideA, strideB, strideC, alpha, a, b, beta, c);
    }

    /// <summary><see cref="BatchedGemm"/> with checked arguments (batch, M, N ≥ 1).</summary>
    /// <param name="batch">Products.</param>
    /// <param name="shape">Sizes, leading dimensions and transposes of each.</param>
    /// <param name="strideA">Elements from A_i to A_{i+1}.</param>
    /// <param name="strideB">Elements from B_i to B_{i+1}.</param>
    /// <param name="strideC">Elements from C_i to C_{i+1}.</param>
    /// <param name="alpha">Scale of the products.</param>
    /// <param name="a">The A_i.</param>
    /// <param name="b">The B_i.</param>
    /// <param name="beta">Scale of the old C.</param>
    /// <param name="c">The C_i.</param>
    protected abstract void BatchedGemmCore(int batch, GemmShape shape, long strideA, long strideB, long strideC, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c);

    /// <summary><see cref="Tanh"/> with checked arguments.</summary>
    /// <param name="x">[n].</param>
    /// <param name="y">[n] out.</param>
    protected abstract void TanhCore(BufferSlice<T> x, BufferSlice<T> y);

    /// <summary><see cref="TanhBackward"/> with checked arguments.</summary>
    /// <param name="y">[n].</param>
    /// <param name="dy">[n].</param>
    /// <param name="dx">[n] out.</param>
    protected abstract void TanhBackwardCore(BufferSlice<T> y, BufferSlice<T> dy, BufferSlice<T> dx);

    /// <summary><see cref="MaskedSoftmax"/> with checked arguments (N, C ≥ 1).</summary>
    /// <param name="rows">N.</param>
    /// <param name="cols">C.</param>
    /// <param name="x">[N, C].</param>
    /// <param name="lengths">[N].</param>
    /// <param name="y">[N, C] out.</param>
    protected abstract void MaskedSoftmaxCore(int rows, int cols, BufferSlice<T> x, BufferSlice<T> lengths, BufferSlice<T> y);

    /// <summary><see cref="SoftmaxBackward"/> with checked arguments (N, C ≥ 1).</summary>
    /// <param name="rows">N.</param>
    /// <param name="cols">C.</param>
    /// <param name="y">[N, C].</param>
    /// <param name="dy">[N, C].</param>
    /// <param name="dx">[N, C] out.</param>
    protected abstract void SoftmaxBackwardCore(int rows, int cols, BufferSlice<T> y, BufferSlice<T> dy, BufferSlice<T> dx);

    /// <summary><see cref="MaskRows"/> with checked arguments (y not empty).</summary>
    /// <param name="cols">C.</param>
    /// <param name="mask">[N].</param>
    /// <param name="y">[N, C].</param>
    protected abstract void MaskRowsCore(int cols, BufferSlice<T> mask, BufferSlice<T> y);

    /// <summary><see cref="AdditiveScores"/> with checked arguments (B·U·S ≥ 1).</summary>
    /// <param name="batch">B.</param>
    /// <param name="queries">U.</param>
    /// <param name="keys">S.</param>
    /// <param name="width">A.</param>
    /// <param name="q">[B·U, A].</param>
    /// <param name="k">[B·S, A].</param>
    /// <param name="v">[A].</param>
    /// <param name="scores">[B, U, S] out.</param>
    protected abstract void AdditiveScoresCore(int batch, int queries, int keys, int width, BufferSlice<T> q, BufferSlice<T> k, BufferSlice<T> v, BufferSlice<T> scores);

    /// <summary><see cref="AdditiveScoresBackward"/> with checked arguments.</summary>
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
    protected abstract void AdditiveScoresBackwardCore(
        int batch, int queries, int keys, int width, BufferSlice<T> q, BufferSlice<T> k, BufferSlice<T> v, BufferSlice<T> dScores,
        BufferSlice<T> dq, BufferSlice<T> dk, BufferSlice<T> dv);

    private static void CheckRows(string op, int rows, int cols, BufferSlice<T> a, BufferSlice<T> b)
    {
        if (rows < 0 || cols < 0)
            throw new LstmException($"{op}: negative size rows={rows}, cols={cols}");
        if ((long)rows * cols > int.MaxValue)
            throw new LstmException($"{op}: [{rows}, {cols}] exceeds one launch");
        Require(a, (long)rows * cols, $"[{rows}, {cols}] input", op);
        Require(b, (long)rows * cols, $"[{rows}, {cols}] operand", op);
    }

    private static void CheckAdditive(string op, int batch, int queries, int keys, int width, BufferSlice<T> q, BufferSlice<T> k, BufferSlice<T> v)
    {
        if (batch < 0 || queries < 0 || keys < 0 || width < 0)
            throw new LstmException($"{op}: negative size B={batch}, U={queries}, S={keys}, A={width}");
        if ((long)batch * queries * Math.Max(keys, width) > int.MaxValue || (long)batch * keys * width > int.MaxValue)
            throw new LstmException($"{op}: B {batch}, U {queries}, S {keys}, A {width} exceed one launch");
        Require(q, (long)batch * queries * width, "q [B·U, A]", op);
        Require(k, (long)batch * keys * width, "k [B·S, A]", op);
        Require(v, width, "v [A]", op);
    }
}

using System.Runtime.CompilerServices;
using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends;

/// <summary>
/// The base of every backend's <see cref="IDeviceOps{T}"/>: each public operation checks its
/// arguments here, once per call, then runs the backend's <c>…Core</c> method, so a bad call
/// throws the same exception with the same message on every device. Nothing is checked per element.
/// </summary>
/// <remarks>
/// A core runs only with checked arguments. Operations without argument rules
/// (<see cref="Allocate"/>, <see cref="Fill"/>, <see cref="IOptimizerOps{T}.Scale"/>,
/// <see cref="Synchronize"/>) are the backend's directly.
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
internal abstract partial class DeviceOps<T> : IDeviceOps<T> where T : unmanaged
{
    /// <inheritdoc/>
    public abstract DeviceBuffer<T> Allocate(long length);

    /// <inheritdoc/>
    public virtual DeviceBuffer<T> AllocateUninitialized(long length) => Allocate(length);

    /// <inheritdoc/>
    public void Upload(ReadOnlySpan<T> source, BufferSlice<T> destination)
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"upload of {source.Length} elements into a slice of {destination.Length}");
        UploadCore(source, destination);
    }

    /// <inheritdoc/>
    public void Download(BufferSlice<T> source, Span<T> destination)
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"download of a slice of {source.Length} into {destination.Length} elements");
        DownloadCore(source, destination);
    }

    /// <inheritdoc/>
    public void Copy(BufferSlice<T> source, BufferSlice<T> destination)
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"copy of {source.Length} elements into a slice of {destination.Length}");
        CopyCore(source, destination);
    }

    /// <inheritdoc/>
    public abstract void Fill(BufferSlice<T> destination, T value);

    /// <inheritdoc/>
    public abstract void Synchronize();

    /// <inheritdoc/>
    public void Gemm(GemmShape shape, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c)
    {
        CheckGemm(shape, a, b, c);
        GemmCore(shape, alpha, a, b, beta, c);
    }

    /// <inheritdoc/>
    public void GemmRows(GemmShape shape, int wholeRows, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c)
    {
        if (shape.TransA != 0)
            throw new LstmException("gemm rows: op(A) must be A (the rows of a transposed A are not contiguous)");
        if (wholeRows < shape.M)
            throw new LstmException($"gemm rows: the whole product has {wholeRows} rows, fewer than the part's {shape.M}");
        CheckGemm(shape, a, b, c);
        GemmRowsCore(shape, wholeRows, alpha, a, b, beta, c);
    }

    /// <inheritdoc/>
    public void SumRows(int rows, int cols, BufferSlice<T> source, T beta, BufferSlice<T> destination)
    {
        if (rows < 0 || cols < 0)
            throw new LstmException($"sum_rows: negative size rows={rows}, cols={cols}");
        if (cols > 0)
        {
            Require(source, (long)rows * cols, "source", "sum_rows");
            Require(destination, cols, "destination", "sum_rows");
        }

        SumRowsCore(rows, cols, source, beta, destination);
    }

    /// <inheritdoc/>
    public void SwapAxes01(int d0, int d1, int d2, BufferSlice<T> source, BufferSlice<T> destination)
    {
        if (d0 < 0 || d1 < 0 || d2 < 0)
            throw new LstmException($"swap_axes01: negative size [{d0}, {d1}, {d2}]");
        long n = (long)d0 * d1 * d2;
        if (n > 0)
        {
            Require(source, n, "source", "swap_axes01");
            Require(destination, n, "destination", "swap_axes01");
        }

        SwapAxes01Core(d0, d1, d2, source, destination);
    }

    /// <inheritdoc/>
    public void AddRowBias(int cols, BufferSlice<T> y, BufferSlice<T> bias)
    {
        if (y.Length > 0)
        {
            if (cols <= 0)
                throw new LstmException($"add_row_bias: {cols} columns");
            Require(bias, cols, "bias", "add_row_bias");
        }

        AddRowBiasCore(cols, y, bias);
    }

    /// <inheritdoc/>
    public void Axpy(T alpha, BufferSlice<T> x, BufferSlice<T> y)
    {
        Require(x, y.Length, "x", "axpy");
        AxpyCore(alpha, x, y);
    }

    /// <inheritdoc/>
    public void Dropout(ulong seed, ulong stream, long baseIndex, T p, BufferSlice<T> x, BufferSlice<T> y)
    {
        double pd = typeof(T) == typeof(float) ? Unsafe.As<T, float>(ref p) : Unsafe.As<T, double>(ref p);
        if (!(pd >= 0 && pd < 1))
            throw new LstmException($"dropout probability {pd} is outside [0, 1)");
        if (baseIndex < 0)
            throw new LstmException($"dropout base index {baseIndex} is negative");
        if (x.Length != y.Length)
            throw new LstmException($"dropout of {x.Length} elements into a slice of {y.Length}");
        DropoutCore(seed, stream, baseIndex, p, x, y);
    }

    /// <summary>Copies host data into a slice of the same length.</summary>
    /// <param name="source">Host data.</param>
    /// <param name="destination">Device slice.</param>
    protected abstract void UploadCore(ReadOnlySpan<T> source, BufferSlice<T> destination);

    /// <summary>Copies a slice to host memory of the same length.</summary>
    /// <param name="source">Device slice.</param>
    /// <param name="destination">Host memory.</param>
    protected abstract void DownloadCore(BufferSlice<T> source, Span<T> destination);

    /// <summary>Copies one slice into another of the same length.</summary>
    /// <param name="source">Source.</param>
    /// <param name="destination">Destination.</param>
    protected abstract void CopyCore(BufferSlice<T> source, BufferSlice<T> destination);

    /// <summary><see cref="Gemm"/> with checked arguments.</summary>
    /// <param name="shape">Sizes, strides and transposes.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="beta">Scale of the old C.</param>
    /// <param name="c">C.</param>
    protected abstract void GemmCore(GemmShape shape, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c);

    /// <summary><see cref="GemmRows"/> with checked arguments.</summary>
    /// <param name="shape">Sizes, strides and transposes of the part.</param>
    /// <param name="wholeRows">M of the whole product.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">The part's rows of A.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="beta">Scale of the old C.</param>
    /// <param name="c">The part's rows of C.</param>
    protected abstract void GemmRowsCore(GemmShape shape, int wholeRows, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c);

    /// <summary><see cref="SumRows"/> with checked arguments.</summary>
    /// <param name="rows">Rows of src.</param>
    /// <param name="cols">Columns of src.</param>
    /// <param name="source">[rows, cols].</param>
    /// <param name="beta">0 to overwrite, 1 to accumulate.</param>
    /// <param name="destination">[cols].</param>
    protected abstract void SumRowsCore(int rows, int cols, BufferSlice<T> source, T beta, BufferSlice<T> destination);

    /// <summary><see cref="SwapAxes01"/> with checked arguments.</summary>
    /// <param name="d0">First axis of the source.</param>
    /// <param name="d1">Second axis of the source.</param>
    /// <param name="d2">Last axis.</param>
    /// <param name="source">[d0, d1, d2].</param>
    /// <param name="destination">[d1, d0, d2].</param>
    protected abstract void SwapAxes01Core(int d0, int d1, int d2, BufferSlice<T> source, BufferSlice<T> destination);

    /// <summary><see cref="AddRowBias"/> with checked arguments.</summary>
    /// <param name="cols">Columns.</param>
    /// <param name="y">[rows, cols], updated.</param>
    /// <param name="bias">[cols].</param>
    protected abstract void AddRowBiasCore(int cols, BufferSlice<T> y, BufferSlice<T> bias);

    /// <summary><see cref="Axpy"/> with checked arguments.</summary>
    /// <param name="alpha">α.</param>
    /// <param name="x">Source.</param>
    /// <param name="y">Updated.</param>
    protected abstract void AxpyCore(T alpha, BufferSlice<T> x, BufferSlice<T> y);

    /// <summary><see cref="Dropout"/> with checked arguments.</summary>
    /// <param name="seed">The generator's seed.</param>
    /// <param name="stream">An independent stream.</param>
    /// <param name="baseIndex">Index of x[0] in the logical tensor.</param>
    /// <param name="p">Drop probability in [0, 1).</param>
    /// <param name="x">[n] input.</param>
    /// <param name="y">[n] output; may be x.</param>
    protected abstract void DropoutCore(ulong seed, ulong stream, long baseIndex, T p, BufferSlice<T> x, BufferSlice<T> y);

    /// <summary>Throws unless a slice holds at least <paramref name="needed"/> elements.</summary>
    /// <param name="slice">The slice.</param>
    /// <param name="needed">Elements the operation reads or writes.</param>
    /// <param name="what">The operand, with its shape.</param>
    /// <param name="op">The operation.</param>
    /// <exception cref="LstmException">The slice is shorter.</exception>
    protected static void Require(BufferSlice<T> slice, long needed, string what, string op)
    {
        if (slice.Length < needed)
            throw new LstmException($"{op}: {what} has {slice.Length} elements, the operation needs {needed}");
    }

    /// <summary>The GEMM's rules: sizes not negative, leading dimensions at least a row, and every operand long enough.</summary>
    private static void CheckGemm(GemmShape s, BufferSlice<T> a, BufferSlice<T> b, BufferSlice<T> c)
    {
        if (s.M < 0 || s.N < 0 || s.K < 0)
            throw new LstmException($"gemm: negative size M={s.M}, N={s.N}, K={s.K}");
        if (s.M == 0 || s.N == 0)
            return;
        if (s.Ldc < s.N)
            throw new LstmException($"gemm: ldc {s.Ldc} is smaller than N={s.N}");
        Require(c, (long)(s.M - 1) * s.Ldc + s.N, "C", "gemm");
        if (s.K == 0)
            return;
        int aRows = s.TransA != 0 ? s.K : s.M;
        int aCols = s.TransA != 0 ? s.M : s.K;
        int bRows = s.TransB != 0 ? s.N : s.K;
        int bCols = s.TransB != 0 ? s.K : s.N;
        if (s.Lda < aCols || s.Ldb < bCols)
            throw new LstmException($"gemm: lda {s.Lda} or ldb {s.Ldb} is smaller than the row of A ({aCols}) or B ({bCols})");
        Require(a, (long)(aRows - 1) * s.Lda + aCols, "A", "gemm");
        Require(b, (long)(bRows - 1) * s.Ldb + bCols, "B", "gemm");
    }
}

using ILGPU;

namespace Lstm.Kernels;

/// <summary>
/// Reductions and element-wise kernels the runtime needs around the cell kernels:
/// bias gradients, layout changes, bias broadcast, the MSE gradient and the SGD update.
/// </summary>
/// <remarks>
/// Every kernel takes the element count and the number of threads launched (stride) and loops,
/// as <c>LstmCellKernels</c> explains.
/// </remarks>
internal static class ElementwiseKernels
{
    /// <summary>
    /// Column sums: dst[j] = β·dst[j] + Σ_r src[r·cols + j]. One thread per column; the sum runs
    /// over rows in order, so the result does not depend on the launch.
    /// </summary>
    /// <param name="index">Column j.</param>
    /// <param name="src">[rows, cols].</param>
    /// <param name="dst">[cols].</param>
    /// <param name="rows">Number of rows.</param>
    /// <param name="cols">Number of columns.</param>
    /// <param name="beta">Scale of the old dst (0: dst is overwritten, 1: accumulated).</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void SumRows<T, TOps>(Index1D index, ArrayView<T> src, ArrayView<T> dst, int rows, int cols, T beta, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        for (int j = index; j < cols; j += stride)
        {
            T acc = ops.Zero;
            for (int r = 0; r < rows; r++)
                acc = ops.Add(acc, src[(long)r * cols + j]);
            dst[j] = ops.Greater(beta, ops.Zero) || ops.Greater(ops.Zero, beta) ? ops.MulAdd(beta, dst[j], acc) : acc;
        }
    }

    /// <summary>
    /// Swaps the first two axes: src [d0, d1, d2] → dst [d1, d0, d2] (batch-first ↔ time-major).
    /// </summary>
    /// <param name="index">Element of dst, flat.</param>
    /// <param name="src">[d0, d1, d2].</param>
    /// <param name="dst">[d1, d0, d2]; must not alias src.</param>
    /// <param name="d0">Size of src's first axis.</param>
    /// <param name="d1">Size of src's second axis.</param>
    /// <param name="d2">Size of the last axis.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void SwapAxes01<T>(Index1D index, ArrayView<T> src, ArrayView<T> dst, int d0, int d1, int d2, int stride)
        where T : unmanaged
    {
        long count = (long)d0 * d1 * d2;
        for (long e = index; e < count; e += stride)
        {
            long k = e % d2;
            long rest = e / d2;
            long i0 = rest % d0;
            long i1 = rest / d0;
            dst[e] = src[(i0 * d1 + i1) * d2 + k];
        }
    }

    /// <summary>y[r·cols + j] = x[r·cols + j] + bias[j]: adds a bias row to every row.</summary>
    /// <param name="index">Element, flat.</param>
    /// <param name="y">[rows, cols], updated in place.</param>
    /// <param name="bias">[cols].</param>
    /// <param name="cols">Number of columns.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void AddRowBias<T, TOps>(Index1D index, ArrayView<T> y, ArrayView<T> bias, int cols, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        for (long e = index; e < y.Length; e += stride)
            y[e] = ops.Add(y[e], bias[e % cols]);
    }

    /// <summary>y = y + α·x (SGD's update with α = -lr; gradient accumulation with α = 1).</summary>
    /// <param name="index">Element.</param>
    /// <param name="x">Source.</param>
    /// <param name="y">Updated in place.</param>
    /// <param name="alpha">α.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void Axpy<T, TOps>(Index1D index, ArrayView<T> x, ArrayView<T> y, T alpha, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        for (long e = index; e < y.Length; e += stride)
            y[e] = ops.MulAdd(alpha, x[e], y[e]);
    }

    /// <summary>dst[i] = value.</summary>
    /// <param name="index">Element.</param>
    /// <param name="dst">Filled.</param>
    /// <param name="value">The value.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void Fill<T>(Index1D index, ArrayView<T> dst, T value, int stride)
        where T : unmanaged
    {
        for (long e = index; e < dst.Length; e += stride)
            dst[e] = value;
    }
}

using ILGPU;
using ILGPU.Runtime;

namespace Lstm.Kernels.Gemm;

/// <summary>
/// The shape of one matrix product C = α·op(A)·op(B) + β·C, every matrix row-major.
/// </summary>
/// <remarks>
/// op(A) is [M, K]: A is stored [M, K] with row stride <see cref="Lda"/>, or, when
/// <see cref="TransA"/> is set, [K, M]. Likewise op(B) is [K, N]: B is stored [K, N] or, when
/// <see cref="TransB"/> is set, [N, K]. C is [M, N] with row stride <see cref="Ldc"/>.
/// With β = 0, C is overwritten and never read (so it may hold NaNs).
/// </remarks>
/// <param name="M">Rows of op(A) and C.</param>
/// <param name="N">Columns of op(B) and C.</param>
/// <param name="K">The inner dimension.</param>
/// <param name="Lda">Row stride of A as stored.</param>
/// <param name="Ldb">Row stride of B as stored.</param>
/// <param name="Ldc">Row stride of C.</param>
/// <param name="TransA">1 when A is stored transposed ([K, M]), else 0.</param>
/// <param name="TransB">1 when B is stored transposed ([N, K]), else 0.</param>
public readonly record struct GemmShape(int M, int N, int K, int Lda, int Ldb, int Ldc, int TransA, int TransB)
{
    /// <summary>The shape for dense operands: leading dimensions derived from M, N, K and the transposes.</summary>
    public static GemmShape Dense(int m, int n, int k, bool transA, bool transB) =>
        new(m, n, k, transA ? m : k, transB ? k : n, n, transA ? 1 : 0, transB ? 1 : 0);
}

/// <summary>
/// Matrix-product kernels. <see cref="Tiled{T, TOps}"/> is the GPU kernel (shared-memory tiles,
/// explicit grouping); <see cref="RowDot{T, TOps}"/> is one thread per output element with no
/// group barrier, used where barriers are expensive (ILGPU's CPU accelerator runs every lane as
/// an OS thread) and as the baseline the tiled kernel is validated against.
/// </summary>
internal static class GemmKernels
{
    /// <summary>Reads op(A)[row, k].</summary>
    private static T LoadA<T>(ArrayView<T> a, GemmShape s, int row, int k) where T : unmanaged =>
        s.TransA != 0 ? a[(long)k * s.Lda + row] : a[(long)row * s.Lda + k];

    /// <summary>Reads op(B)[k, col].</summary>
    private static T LoadB<T>(ArrayView<T> b, GemmShape s, int k, int col) where T : unmanaged =>
        s.TransB != 0 ? b[(long)col * s.Ldb + k] : b[(long)k * s.Ldb + col];

    /// <summary>
    /// Tiled GEMM: a group of tile×tile threads computes one tile×tile block of C, staging
    /// tile×tile blocks of op(A) and op(B) in shared memory. Correct for any M, N, K ≥ 1
    /// (edge tiles are padded with zeros).
    /// </summary>
    /// <remarks>
    /// Launch with grid (⌈N/tile⌉, ⌈M/tile⌉), group (tile, tile) and dynamic shared memory of
    /// 2·tile² elements of T (see <see cref="TiledConfig"/>).
    /// </remarks>
    /// <param name="a">A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="c">C, [M, Ldc].</param>
    /// <param name="shape">Sizes, strides and transposes.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="beta">Scale of the old C (0: C is not read).</param>
    /// <param name="tile">The tile edge, a compile-time constant.</param>
    public static void Tiled<T, TOps>(
        ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, GemmShape shape, T alpha, T beta, SpecializedValue<int> tile)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        int ts = tile.Value;
        var shared = SharedMemory.GetDynamic<T>();
        int tx = Group.IdxX;
        int ty = Group.IdxY;
        int row = Grid.IdxY * ts + ty;
        int col = Grid.IdxX * ts + tx;
        int bOffset = ts * ts;
        T acc = ops.Zero;
        for (int k0 = 0; k0 < shape.K; k0 += ts)
        {
            int ka = k0 + tx;
            int kb = k0 + ty;
            shared[ty * ts + tx] = row < shape.M && ka < shape.K ? LoadA(a, shape, row, ka) : ops.Zero;
            shared[bOffset + ty * ts + tx] = col < shape.N && kb < shape.K ? LoadB(b, shape, kb, col) : ops.Zero;
            Group.Barrier();
            for (int k = 0; k < ts; k++)
                acc = ops.MulAdd(shared[ty * ts + k], shared[bOffset + k * ts + tx], acc);
            Group.Barrier();
        }

        if (row < shape.M && col < shape.N)
            Store<T, TOps>(c, shape, row, col, acc, alpha, beta);
    }

    /// <summary>The launch configuration of <see cref="Tiled{T, TOps}"/> for a shape and tile edge.</summary>
    /// <param name="shape">The product's shape.</param>
    /// <param name="tile">The tile edge.</param>
    public static KernelConfig TiledConfig<T>(GemmShape shape, int tile) where T : unmanaged =>
        new(
            new Index2D((shape.N + tile - 1) / tile, (shape.M + tile - 1) / tile),
            new Index2D(tile, tile),
            SharedMemoryConfig.RequestDynamic<T>(2 * tile * tile));

    /// <summary>
    /// One dot product per element of C, no barriers: thread <paramref name="index"/> computes
    /// elements index, index + stride, ... of C in row-major order (M·N in all).
    /// </summary>
    /// <param name="index">The thread.</param>
    /// <param name="a">A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="c">C, [M, Ldc].</param>
    /// <param name="shape">Sizes, strides and transposes.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="beta">Scale of the old C (0: C is not read).</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void RowDot<T, TOps>(
        Index1D index, ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, GemmShape shape, T alpha, T beta, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        long count = (long)shape.M * shape.N;
        for (long e = index; e < count; e += stride)
        {
            int row = (int)(e / shape.N);
            int col = (int)(e - (long)row * shape.N);
            T acc = ops.Zero;
            for (int k = 0; k < shape.K; k++)
                acc = ops.MulAdd(LoadA(a, shape, row, k), LoadB(b, shape, k, col), acc);
            Store<T, TOps>(c, shape, row, col, acc, alpha, beta);
        }
    }

    private static void Store<T, TOps>(ArrayView<T> c, GemmShape shape, int row, int col, T acc, T alpha, T beta)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        long idx = (long)row * shape.Ldc + col;
        T value = ops.Mul(alpha, acc);
        if (!ops.Greater(beta, ops.Zero) && !ops.Greater(ops.Zero, beta))
            c[idx] = value;
        else
            c[idx] = ops.MulAdd(beta, c[idx], value);
    }
}

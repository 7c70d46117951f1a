using ILGPU;
using ILGPU.Runtime;

namespace Lstm.Kernels.Gemm;

/// <summary>
/// Split-K matrix products for float32 products whose output tiles are too few to fill the
/// device (the LSTM's weight gradients: M and N the layer's sizes, K = batch·steps): K is cut
/// into S contiguous slices of <c>sliceK</c> (the last one shorter), slice s's partial product
/// op(A)[:, ks]·op(B)[ks, :] is written to a float32 workspace W [S, M, N] by a block-tiled
/// kernel (one launch, the slice the grid's z index), then <see cref="Reduce"/> sums the S
/// partials of each output in slice order and applies α and β.
/// </summary>
/// <remarks>
/// <para>Deterministic: no atomics, every partial is summed in a fixed order, so a product gives
/// the same bits on every run. It is not RowDot's k-order sum: the S partials are rounded
/// separately, then added. That is why split-K is never the default at
/// <c>GemmPrecision.Fp32</c>, whose contract is RowDot's bits.</para>
/// <para>The partial kernels run the block kernels of the family on views moved to the slice's
/// first k, with the slice's K and a dense output of row stride N: <see cref="Block64Partial"/>
/// (FP32, <see cref="BlockedGemmKernels.Block64"/>), the tensor-core partials of
/// <see cref="TensorCoreGemmKernels"/> (reduced precisions on sm_80+), and
/// <see cref="RoundedPartial"/>, one thread per partial output, for devices with neither (small
/// groups, no tensor cores). With S = 1 a product is the block kernel's, bit for bit.</para>
/// </remarks>
internal static class SplitKGemmKernels
{
    /// <summary>Rows and columns of C per group of every partial kernel: the tile that counts when the dispatch asks whether a product fills the device.</summary>
    public const int Tile = 64;

    /// <summary>The least k a slice holds when K is cut (a slice's block kernel must have some k-tiles to amortize its prologue and store).</summary>
    public const int MinSliceK = 128;

    /// <summary>Slices start at multiples of this (the tensor-core kernels' k-tile), so only the last slice ends inside a k-tile.</summary>
    public const int SliceAlign = 16;

    /// <summary>The most slices a product is cut into.</summary>
    public const int MaxSplits = 64;

    /// <summary>The k of each slice for a wanted number of slices: ⌈K/S⌉ rounded up to <see cref="SliceAlign"/>.</summary>
    /// <param name="k">K of the product (≥ 1).</param>
    /// <param name="splits">The wanted number of slices (≥ 1).</param>
    public static int SliceK(int k, int splits)
    {
        int s = Math.Max(1, splits);
        int slice = (int)(((long)k + s - 1) / s);
        return (slice + SliceAlign - 1) / SliceAlign * SliceAlign;
    }

    /// <summary>The number of slices of <paramref name="sliceK"/> that cover K: ⌈K/sliceK⌉.</summary>
    /// <param name="k">K of the product.</param>
    /// <param name="sliceK">k per slice.</param>
    public static int Slices(int k, int sliceK) => (int)(((long)k + sliceK - 1) / sliceK);

    /// <summary>Slice s's FP32 partial product (<see cref="BlockedGemmKernels.Block64"/>) into W[s] (s = the grid's z index).</summary>
    /// <remarks>Launch with <see cref="Block64PartialConfig"/>: groups of 256 threads.</remarks>
    /// <param name="a">A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="w">The workspace, at least S·M·N.</param>
    /// <param name="shape">The whole product.</param>
    /// <param name="sliceK">k per slice.</param>
    public static void Block64Partial(ArrayView<float> a, ArrayView<float> b, ArrayView<float> w, GemmShape shape, int sliceK)
    {
        int s = Grid.IdxZ;
        int k0 = s * sliceK;
        BlockedGemmKernels.Block64(
            SliceA(a, shape, k0), SliceB(b, shape, k0), SliceW(w, shape, s), SliceShape(shape, k0, sliceK), 1f, 0f);
    }

    /// <summary>The launch configuration of <see cref="Block64Partial"/>: <see cref="BlockedGemmKernels.Block64Config"/>'s grid times the slices along z.</summary>
    /// <param name="shape">The whole product.</param>
    /// <param name="slices">S.</param>
    public static KernelConfig Block64PartialConfig(GemmShape shape, int slices) =>
        new(
            new Index3D((shape.M + 63) / 64, (shape.N + 63) / 64, slices),
            new Index3D(BlockedGemmKernels.BlockGroupSize, 1, 1));

    /// <summary>
    /// The partial products one thread per output, no barriers: thread <paramref name="index"/>
    /// computes elements index, index + stride, ... of W [S, M, N], each Σ over its slice's k in
    /// order of <see cref="ReducedPrecision.MulAdd"/> (the products of
    /// <see cref="PrecisionGemmKernels.RowDot"/>).
    /// </summary>
    /// <remarks>Launch implicitly grouped with any number of threads and pass that number as <paramref name="stride"/>.</remarks>
    /// <param name="index">The thread.</param>
    /// <param name="a">A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="w">The workspace, at least S·M·N.</param>
    /// <param name="shape">The whole product.</param>
    /// <param name="precision">A <see cref="GemmRounding"/> as an int.</param>
    /// <param name="sliceK">k per slice.</param>
    /// <param name="slices">S.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void RoundedPartial(
        Index1D index, ArrayView<float> a, ArrayView<float> b, ArrayView<float> w, GemmShape shape, int precision, int sliceK, int slices, int stride)
    {
        long plane = (long)shape.M * shape.N;
        long count = plane * slices;
        for (long e = index; e < count; e += stride)
        {
            int s = (int)(e / plane);
            long rest = e - s * plane;
            int row = (int)(rest / shape.N);
            int col = (int)(rest - (long)row * shape.N);
            int k0 = s * sliceK;
            int k1 = Math.Min(k0 + sliceK, shape.K);
            float acc = 0f;
            for (int k = k0; k < k1; k++)
            {
                float av = shape.TransA != 0 ? a[(long)k * shape.Lda + row] : a[(long)row * shape.Lda + k];
                float bv = shape.TransB != 0 ? b[(long)col * shape.Ldb + k] : b[(long)k * shape.Ldb + col];
                acc = ReducedPrecision.MulAdd(precision, av, bv, acc);
            }

            w[e] = acc;
        }
    }

    /// <summary>
    /// C = α·Σ_s W[s] + β·C: thread <paramref name="index"/> reduces elements index, index + stride,
    /// ... of C (M·N in all), adding W[0], W[1], …, W[S-1] in that order from W[0], then storing as
    /// <see cref="PrecisionGemmKernels.Scale"/> (β = 0: C is not read).
    /// </summary>
    /// <remarks>Launch implicitly grouped with any number of threads and pass that number as <paramref name="stride"/>.</remarks>
    /// <param name="index">The thread.</param>
    /// <param name="w">The partial products, [S, M, N].</param>
    /// <param name="c">C, [M, Ldc].</param>
    /// <param name="shape">The whole product (M, N, Ldc).</param>
    /// <param name="slices">S.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="beta">Scale of the old C (0: C is not read).</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void Reduce(
        Index1D index, ArrayView<float> w, ArrayView<float> c, GemmShape shape, int slices, float alpha, float beta, int stride)
    {
        long plane = (long)shape.M * shape.N;
        for (long e = index; e < plane; e += stride)
        {
            float acc = w[e];
            for (int s = 1; s < slices; s++)
                acc += w[s * plane + e];
            int row = (int)(e / shape.N);
            int col = (int)(e - (long)row * shape.N);
            long idx = (long)row * shape.Ldc + col;
            c[idx] = PrecisionGemmKernels.Scale(acc, alpha, beta, beta == 0f ? 0f : c[idx]);
        }
    }

    /// <summary>A from the first k of a slice on: the view moved k0 columns of op(A) on.</summary>
    /// <param name="a">A as stored.</param>
    /// <param name="shape">The whole product.</param>
    /// <param name="k0">The slice's first k.</param>
    public static ArrayView<float> SliceA(ArrayView<float> a, GemmShape shape, int k0) =>
        a.SubView(shape.TransA != 0 ? (long)k0 * shape.Lda : k0);

    /// <summary>B from the first k of a slice on: the view moved k0 rows of op(B) on.</summary>
    /// <param name="b">B as stored.</param>
    /// <param name="shape">The whole product.</param>
    /// <param name="k0">The slice's first k.</param>
    public static ArrayView<float> SliceB(ArrayView<float> b, GemmShape shape, int k0) =>
        b.SubView(shape.TransB != 0 ? k0 : (long)k0 * shape.Ldb);

    /// <summary>Slice s's partial product in the workspace: W[s], [M, N] dense.</summary>
    /// <param name="w">The workspace.</param>
    /// <param name="shape">The whole product.</param>
    /// <param name="s">The slice.</param>
    public static ArrayView<float> SliceW(ArrayView<float> w, GemmShape shape, int s) =>
        w.SubView((long)s * shape.M * shape.N, (long)shape.M * shape.N);

    /// <summary>The shape of a slice's partial product: the slice's K, a dense output of row stride N.</summary>
    /// <param name="shape">The whole product.</param>
    /// <param name="k0">The slice's first k.</param>
    /// <param name="sliceK">k per slice.</param>
    public static GemmShape SliceShape(GemmShape shape, int k0, int sliceK) =>
        new(shape.M, shape.N, Math.Min(sliceK, shape.K - k0), shape.Lda, shape.Ldb, shape.N, shape.TransA, shape.TransB);
}

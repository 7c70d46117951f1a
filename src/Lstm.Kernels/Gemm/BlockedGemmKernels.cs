using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace Lstm.Kernels.Gemm;

/// <summary>Four floats: one 16-byte shared-memory read (<c>ld.shared.v4.f32</c> on CUDA).</summary>
internal struct Float4
{
#pragma warning disable CS0649 // Only read: from shared memory through a view cast to Float4.
    public float X, Y, Z, W;
#pragma warning restore CS0649
}

/// <summary>
/// Register-blocked FP32 matrix products C = α·op(A)·op(B) + β·C (see <see cref="GemmShape"/>)
/// for GPUs: <see cref="Block128"/> and <see cref="Block64"/> (block tiles, many rows) and
/// <see cref="FewRow"/> (at most a few rows, the recurrent product h·W_hhᵀ of one step).
/// Plain C#, no inline PTX or warp shuffles: they compile for CUDA, OpenCL and ILGPU's CPU
/// accelerator (given groups of 256 threads).
/// </summary>
/// <remarks>
/// <para>
/// The bitwise contract: every output C[i, j] is summed over k in order 0, 1, ..., K-1 as
/// <c>acc = op(A)[i, k] * op(B)[k, j] + acc</c> from acc = 0, then stored as
/// <c>GemmKernels</c>' Store does (α·acc; β = 0 overwrites C without reading it, otherwise
/// β·C + α·acc). Where K is not a whole number of slabs (chunks) the kernels add products 0·0
/// before k = 0, to an accumulator of +0, which stays exactly +0 (past K they would turn an
/// accumulator of -0, the sum of products that round to -0, into +0). That is exactly
/// <see cref="GemmKernels.RowDot{T, TOps}"/>'s arithmetic, so on ILGPU's CPU accelerator each
/// output is bit for bit RowDot's, whichever kernel computes it and however many rows the
/// product has; on a GPU all these kernels and RowDot emit the same multiply-add form per
/// element. No kernel here splits K or reduces across threads: either would change the
/// summation order.
/// </para>
/// <para>
/// Edges: the block kernels load a thread's first row (column) of a slab clamped into the
/// matrix and skip its other rows (columns) past it: either feeds only outputs that are not
/// stored. Only the first slab reaches outside [0, K), and there the values are replaced by 0
/// with a select (a multiply by 0 would turn an infinity at the clamped address into NaN); every
/// later slab is loaded with no clamp, from views that advance by a constant. The few-row
/// kernel clamps every load (its first chunk starts before k = 0 likewise) and replaces those
/// outside the matrix by 0 the same way.
/// </para>
/// <para>
/// ILGPU does not unroll loops, so the multiply-add blocks are written out in
/// <c>BlockedGemmKernels.Generated.cs</c>, which the test project's <c>GemmCodeGenerator</c> writes.
/// </para>
/// </remarks>
internal static partial class BlockedGemmKernels
{
    /// <summary>k per shared-memory slab of <see cref="Block128"/> and <see cref="Block64"/>.</summary>
    public const int BlockK = 8;

    /// <summary>Threads in a group of <see cref="Block128"/> and <see cref="Block64"/>.</summary>
    public const int BlockGroupSize = 256;

    /// <summary>Threads in a group of <see cref="FewRow"/>.</summary>
    public const int FewRowGroupSize = 64;

    /// <summary>k per shared-memory chunk of <see cref="FewRow"/>.</summary>
    public const int FewRowK = 32;

    /// <summary>Most rows one thread of <see cref="FewRow"/> accumulates.</summary>
    public const int FewRowMaxRowsPerThread = 4;

    // Shared slabs are [BK][tile + 4]: the padding spreads the staging stores over the banks,
    // and a k-row stays a whole number of float4s.
    private const int Stride128 = 128 + 4;
    private const int SlabSize128 = BlockK * Stride128;
    private const int Stage128 = 2 * SlabSize128;
    private const int Stride64 = 64 + 4;
    private const int SlabSize64 = BlockK * Stride64;
    private const int Stage64 = 2 * SlabSize64;

    // Few-row: [columns][KC + 1] of op(B) (k contiguous per column), then [rows][KC + 1] of op(A).
    private const int FewRowStride = FewRowK + 1;
    private const int FewRowAOffset = FewRowGroupSize * FewRowStride;
    private const int FewRowShared = FewRowAOffset + 4 * FewRowMaxRowsPerThread * FewRowStride;

    /// <summary>
    /// 128×128 block tile: 256 threads, each 8×8 outputs (rows 4·ty … 4·ty+3 and 64 above them,
    /// columns likewise with tx), BK = 8, the shared slabs of op(A) and op(B) double-buffered:
    /// the next slab is loaded from global memory into registers while the current one is
    /// computed from shared memory (float4 reads), then stored into the other buffer; one
    /// barrier per slab. Any M, N, K ≥ 1, any transposes and leading dimensions.
    /// </summary>
    /// <remarks>
    /// Launch with <see cref="Block128Config"/> and, on CUDA, <c>KernelSpecialization(256, 2)</c>:
    /// two groups a multiprocessor, the 64 accumulators and the rest of a thread in at most 128
    /// registers. Each output sums k in order: see the class remarks.
    /// </remarks>
    /// <param name="a">A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="c">C, [M, Ldc].</param>
    /// <param name="shape">Sizes, strides and transposes.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="beta">Scale of the old C (0: C is not read).</param>
    public static void Block128(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmShape shape, float alpha, float beta)
    {
        var shared = SharedMemory.Allocate<float>(2 * Stage128);
        var s4 = shared.Cast<Float4>().AsAligned(16);
        int tid = Group.IdxX;
        int tx = tid & 15;
        int ty = tid >> 4;
        int m0 = Grid.IdxX * 128;
        int n0 = Grid.IdxY * 128;
        int slabs = (shape.K + BlockK - 1) / BlockK;
        int k0 = shape.K - slabs * BlockK;

        // Staging map: element i (0 … 3) of a thread is op(A)[m0 + ar + 32i, ak] and op(B)[bk, n0 + bc + 32i]
        // of each slab; consecutive threads along the contiguous dimension of the stored matrix.
        bool aAlongK = shape.TransA == 0;
        bool bAlongK = shape.TransB != 0;
        int ar = aAlongK ? tid >> 3 : tid & 31;
        int ak = aAlongK ? tid & 7 : tid >> 5;
        int bc = bAlongK ? tid >> 3 : tid & 31;
        int bk = bAlongK ? tid & 7 : tid >> 5;
        long aRowStride = aAlongK ? shape.Lda : 1, aKStride = aAlongK ? 1 : shape.Lda;
        long bColStride = bAlongK ? shape.Ldb : 1, bKStride = bAlongK ? 1 : shape.Ldb;
        int aRow = m0 + ar;
        int bCol = n0 + bc;

        // Element 0 of a thread past the matrix is clamped into it (it feeds only outputs that are not
        // stored); elements 1 … 3 past it are not loaded.
        var aRowView = a.SubView((aRow < shape.M ? aRow : shape.M - 1) * aRowStride);
        var bColView = b.SubView((bCol < shape.N ? bCol : shape.N - 1) * bColStride);
        long aD1 = 32 * aRowStride, aD2 = 64 * aRowStride, aD3 = 96 * aRowStride;
        long bD1 = 32 * bColStride, bD2 = 64 * bColStride, bD3 = 96 * bColStride;
        bool a1 = aRow + 32 < shape.M, a2 = aRow + 64 < shape.M, a3 = aRow + 96 < shape.M;
        bool b1 = bCol + 32 < shape.N, b2 = bCol + 64 < shape.N, b3 = bCol + 96 < shape.N;
        int sa = ak * Stride128 + ar;
        int sb = SlabSize128 + bk * Stride128 + bc;

        // Slab 0 starts at k0 = K - 8·slabs ≤ 0: zeros before k = 0, so every later slab is whole.
        int ka = k0 + ak;
        int kb = k0 + bk;
        var pa = aRowView.SubView((ka > 0 ? ka : 0) * aKStride);
        var pb = bColView.SubView((kb > 0 ? kb : 0) * bKStride);
        var sta = shared.SubView(sa);
        var stb = shared.SubView(sb);
        sta[0] = ka >= 0 ? pa[0] : 0f;
        sta[32] = ka >= 0 & a1 ? pa[aD1] : 0f;
        sta[64] = ka >= 0 & a2 ? pa[aD2] : 0f;
        sta[96] = ka >= 0 & a3 ? pa[aD3] : 0f;
        stb[0] = kb >= 0 ? pb[0] : 0f;
        stb[32] = kb >= 0 & b1 ? pb[bD1] : 0f;
        stb[64] = kb >= 0 & b2 ? pb[bD2] : 0f;
        stb[96] = kb >= 0 & b3 ? pb[bD3] : 0f;
        Group.Barrier();

        // Slabs 1, 2, …: no k clamps; the views advance by a constant (not past the last slab).
        ka += BlockK;
        kb += BlockK;
        pa = aRowView.SubView((ka < shape.K ? ka : shape.K - 1) * aKStride);
        pb = bColView.SubView((kb < shape.K ? kb : shape.K - 1) * bKStride);
        long aStep = BlockK * aKStride, bStep = BlockK * bKStride;
        float va0 = 0f, va1 = 0f, va2 = 0f, va3 = 0f, vb0 = 0f, vb1 = 0f, vb2 = 0f, vb3 = 0f;
        var acc = default(Acc8x8);
        int cur = 0;
        for (int s = 1; s < slabs; s++)
        {
            // The next slab into registers while this one is computed (a skipped element keeps a
            // stale value: it feeds only outputs that are not stored).
            va0 = pa[0];
            if (a1)
                va1 = pa[aD1];
            if (a2)
                va2 = pa[aD2];
            if (a3)
                va3 = pa[aD3];
            vb0 = pb[0];
            if (b1)
                vb1 = pb[bD1];
            if (b2)
                vb2 = pb[bD2];
            if (b3)
                vb3 = pb[bD3];
            if (s + 1 < slabs)
            {
                pa = pa.SubView(aStep);
                pb = pb.SubView(bStep);
            }

            acc = Slab128(acc, s4.SubView((cur >> 2) + ty), s4.SubView(((cur + SlabSize128) >> 2) + tx));
            cur = Stage128 - cur;
            sta = shared.SubView(cur + sa);
            stb = shared.SubView(cur + sb);
            sta[0] = va0;
            sta[32] = va1;
            sta[64] = va2;
            sta[96] = va3;
            stb[0] = vb0;
            stb[32] = vb1;
            stb[64] = vb2;
            stb[96] = vb3;
            Group.Barrier();
        }

        acc = Slab128(acc, s4.SubView((cur >> 2) + ty), s4.SubView(((cur + SlabSize128) >> 2) + tx));
        StoreTile128(acc, c, shape, m0 + 4 * ty, n0 + 4 * tx, alpha, beta);
    }

    /// <summary>
    /// 64×64 block tile: 256 threads, each 4×4 outputs (rows 4·ty … 4·ty+3, columns 4·tx …
    /// 4·tx+3), otherwise as <see cref="Block128"/> (BK = 8, double-buffered shared slabs with
    /// register staging, float4 shared reads, zeros before k = 0 in the first slab, any shape).
    /// For products whose 128×128 tiles are too few to fill the device.
    /// </summary>
    /// <remarks>Launch with <see cref="Block64Config"/>. Each output sums k in order: see the class remarks.</remarks>
    /// <param name="a">A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="c">C, [M, Ldc].</param>
    /// <param name="shape">Sizes, strides and transposes.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="beta">Scale of the old C (0: C is not read).</param>
    public static void Block64(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmShape shape, float alpha, float beta)
    {
        var shared = SharedMemory.Allocate<float>(2 * Stage64);
        var s4 = shared.Cast<Float4>().AsAligned(16);
        int tid = Group.IdxX;
        int tx = tid & 15;
        int ty = tid >> 4;
        int m0 = Grid.IdxX * 64;
        int n0 = Grid.IdxY * 64;
        int slabs = (shape.K + BlockK - 1) / BlockK;
        int k0 = shape.K - slabs * BlockK;

        // Staging map as Block128's, with elements i = 0, 1.
        bool aAlongK = shape.TransA == 0;
        bool bAlongK = shape.TransB != 0;
        int ar = aAlongK ? tid >> 3 : tid & 31;
        int ak = aAlongK ? tid & 7 : tid >> 5;
        int bc = bAlongK ? tid >> 3 : tid & 31;
        int bk = bAlongK ? tid & 7 : tid >> 5;
        long aRowStride = aAlongK ? shape.Lda : 1, aKStride = aAlongK ? 1 : shape.Lda;
        long bColStride = bAlongK ? shape.Ldb : 1, bKStride = bAlongK ? 1 : shape.Ldb;
        int aRow = m0 + ar;
        int bCol = n0 + bc;
        var aRowView = a.SubView((aRow < shape.M ? aRow : shape.M - 1) * aRowStride);
        var bColView = b.SubView((bCol < shape.N ? bCol : shape.N - 1) * bColStride);
        long aD1 = 32 * aRowStride;
        long bD1 = 32 * bColStride;
        bool a1 = aRow + 32 < shape.M;
        bool b1 = bCol + 32 < shape.N;
        int sa = ak * Stride64 + ar;
        int sb = SlabSize64 + bk * Stride64 + bc;

        int ka = k0 + ak;
        int kb = k0 + bk;
        var pa = aRowView.SubView((ka > 0 ? ka : 0) * aKStride);
        var pb = bColView.SubView((kb > 0 ? kb : 0) * bKStride);
        var sta = shared.SubView(sa);
        var stb = shared.SubView(sb);
        sta[0] = ka >= 0 ? pa[0] : 0f;
        sta[32] = ka >= 0 & a1 ? pa[aD1] : 0f;
        stb[0] = kb >= 0 ? pb[0] : 0f;
        stb[32] = kb >= 0 & b1 ? pb[bD1] : 0f;
        Group.Barrier();

        ka += BlockK;
        kb += BlockK;
        pa = aRowView.SubView((ka < shape.K ? ka : shape.K - 1) * aKStride);
        pb = bColView.SubView((kb < shape.K ? kb : shape.K - 1) * bKStride);
        long aStep = BlockK * aKStride, bStep = BlockK * bKStride;
        float va0 = 0f, va1 = 0f, vb0 = 0f, vb1 = 0f;
        var acc = default(Acc4x4);
        int cur = 0;
        for (int s = 1; s < slabs; s++)
        {
            va0 = pa[0];
            if (a1)
                va1 = pa[aD1];
            vb0 = pb[0];
            if (b1)
                vb1 = pb[bD1];
            if (s + 1 < slabs)
            {
                pa = pa.SubView(aStep);
                pb = pb.SubView(bStep);
            }

            acc = Slab64(acc, s4.SubView((cur >> 2) + ty), s4.SubView(((cur + SlabSize64) >> 2) + tx));
            cur = Stage64 - cur;
            sta = shared.SubView(cur + sa);
            stb = shared.SubView(cur + sb);
            sta[0] = va0;
            sta[32] = va1;
            stb[0] = vb0;
            stb[32] = vb1;
            Group.Barrier();
        }

        acc = Slab64(acc, s4.SubView((cur >> 2) + ty), s4.SubView(((cur + SlabSize64) >> 2) + tx));
        StoreTile64(acc, c, shape, m0 + 4 * ty, n0 + 4 * tx, alpha, beta);
    }

    /// <summary>
    /// The product at few rows (M ≤ 16: the recurrent product C[B, 4H] = h[B, H]·W_hhᵀ of one
    /// step at batch ≤ 16). A group of 64 threads owns 64 / <paramref name="slices"/> columns of C
    /// and <paramref name="slices"/>·rowsPerThread rows; each thread owns one column and
    /// rowsPerThread consecutive rows, their accumulators in registers. Per chunk of 32 k the
    /// group stages [columns × 32] of op(B) and [rows × 32] of op(A) in shared memory with
    /// coalesced loads, then each thread runs k in order over its column. Groups are small so
    /// that the columns spread over many multiprocessors; larger M takes more groups along y.
    /// </summary>
    /// <remarks>
    /// Each output sums k in order (see the class remarks), which rules out the usual ways of
    /// finding more parallelism at few rows: split-K and warp-shuffle reductions both change the
    /// summation order and would break the bitwise contract (a product over some rows equals
    /// those rows of the whole product, whichever kernel computes either). Launch with
    /// <see cref="FewRowConfig"/> and the layout of <see cref="FewRowLayout"/>.
    /// </remarks>
    /// <param name="a">A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="c">C, [M, Ldc].</param>
    /// <param name="shape">Sizes, strides and transposes.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="beta">Scale of the old C (0: C is not read).</param>
    /// <param name="slices">Row slices of a group: 1, 2 or 4 (64, 32 or 16 columns per group).</param>
    /// <param name="rowsPerThread">Rows per thread, 1 … <see cref="FewRowMaxRowsPerThread"/>, a compile-time constant.</param>
    public static void FewRow(
        ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmShape shape, float alpha, float beta, int slices, SpecializedValue<int> rowsPerThread)
    {
        int ms = rowsPerThread.Value;
        var shared = SharedMemory.Allocate<float>(FewRowShared);
        int tid = Group.IdxX;
        int cwShift = slices == 1 ? 6 : slices == 2 ? 5 : 4;
        int cw = 1 << cwShift;
        int col = tid & (cw - 1);
        int slice = tid >> cwShift;
        int mp = slices * ms;
        int n0 = Grid.IdxX * cw;
        int m0 = Grid.IdxY * mp;
        bool ta = shape.TransA != 0;
        bool tb = shape.TransB != 0;
        int bCount = cw * FewRowK;
        int aCount = mp * FewRowK;

        // The first chunk starts at K - 32·chunks ≤ 0 (zeros before k = 0), the last ends at K.
        var acc = default(AccRows);
        for (int k0 = shape.K - (shape.K + FewRowK - 1) / FewRowK * FewRowK; k0 < shape.K; k0 += FewRowK)
        {
            // op(B)[k0 … k0+31, n0 … n0+cw-1] → [column][k]; consecutive threads along k for
            // B stored [N, K] (W_hh), along columns for B stored [K, N].
            for (int e = tid; e < bCount; e += FewRowGroupSize)
            {
                int cl = tb ? e >> 5 : e & (cw - 1);
                int kk = tb ? e & 31 : e >> cwShift;
                shared[cl * FewRowStride + kk] = LoadB(b, shape, k0 + kk, n0 + cl);
            }

            // op(A)[m0 … m0+mp-1, k0 … k0+31] → [row][k].
            for (int e = tid; e < aCount; e += FewRowGroupSize)
            {
                int kq = e / mp;
                int r = ta ? e - kq * mp : e >> 5;
                int kk = ta ? kq : e & 31;
                shared[FewRowAOffset + r * FewRowStride + kk] = LoadA(a, shape, m0 + r, k0 + kk);
            }

            Group.Barrier();
            acc = FewRowChunk(acc, shared.SubView(col * FewRowStride), shared.SubView(FewRowAOffset + slice * ms * FewRowStride), ms);
            Group.Barrier();
        }

        FewRowStore(acc, c, shape, m0 + slice * ms, n0 + col, alpha, beta, ms);
    }

    /// <summary>The launch configuration of <see cref="Block128"/>: one group of 256 threads per 128×128 tile of C.</summary>
    /// <param name="shape">The product's shape.</param>
    public static KernelConfig Block128Config(GemmShape shape) =>
        new(
            new Index2D((shape.M + 127) / 128, (shape.N + 127) / 128),
            new Index2D(BlockGroupSize, 1));

    /// <summary>The launch configuration of <see cref="Block64"/>: one group of 256 threads per 64×64 tile of C.</summary>
    /// <param name="shape">The product's shape.</param>
    public static KernelConfig Block64Config(GemmShape shape) =>
        new(
            new Index2D((shape.M + 63) / 64, (shape.N + 63) / 64),
            new Index2D(BlockGroupSize, 1));

    /// <summary>
    /// The layout of <see cref="FewRow"/> for M rows: the row slices of a group (1, 2 or 4) and
    /// the rows per thread (1 … 4), so that a group covers min(M, 16) rows with little waste:
    /// M = 1: 1 × 1 (64 columns a group); 2: 2 × 1 (32); 3–4: 4 × 1 (16); 5–8: 4 × 2; 9–12: 4 × 3;
    /// more: 4 × 4, with ⌈M / 16⌉ groups along y.
    /// </summary>
    /// <param name="m">Rows of C.</param>
    public static (int Slices, int RowsPerThread) FewRowLayout(int m) => m switch
    {
        <= 1 => (1, 1),
        2 => (2, 1),
        <= 4 => (4, 1),
        <= 8 => (4, 2),
        <= 12 => (4, 3),
        _ => (4, 4),
    };

    /// <summary>The launch configuration of <see cref="FewRow"/> for a shape and its <see cref="FewRowLayout"/>.</summary>
    /// <param name="shape">The product's shape.</param>
    /// <param name="slices">Row slices of a group.</param>
    /// <param name="rowsPerThread">Rows per thread.</param>
    public static KernelConfig FewRowConfig(GemmShape shape, int slices, int rowsPerThread)
    {
        int cols = FewRowGroupSize / slices;
        int rows = slices * rowsPerThread;
        return new(
            new Index2D((shape.N + cols - 1) / cols, (shape.M + rows - 1) / rows),
            new Index2D(FewRowGroupSize, 1));
    }

    /// <summary>op(A)[row, k] for k &lt; K, clamped into the matrix, 0 outside it (a row past M, k &lt; 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float LoadA(ArrayView<float> a, GemmShape s, int row, int k)
    {
        int rc = row < s.M ? row : s.M - 1;
        int kc = k >= 0 ? k : 0;
        long idx = s.TransA != 0 ? (long)kc * s.Lda + rc : (long)rc * s.Lda + kc;
        float v = a[idx];
        return (row < s.M) & (k >= 0) ? v : 0f;
    }

    /// <summary>op(B)[k, col] for k &lt; K, clamped into the matrix, 0 outside it (a column past N, k &lt; 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float LoadB(ArrayView<float> b, GemmShape s, int k, int col)
    {
        int cc = col < s.N ? col : s.N - 1;
        int kc = k >= 0 ? k : 0;
        long idx = s.TransB != 0 ? (long)cc * s.Ldb + kc : (long)kc * s.Ldb + cc;
        float v = b[idx];
        return (col < s.N) & (k >= 0) ? v : 0f;
    }

    /// <summary>C[row, col] = α·acc (β = 0: C is not read), else β·C[row, col] + α·acc, as <c>GemmKernels</c>' Store; nothing outside C.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreOne(ArrayView<float> c, GemmShape shape, int row, int col, float acc, float alpha, float beta)
    {
        if (row >= shape.M || col >= shape.N)
            return;
        long idx = (long)row * shape.Ldc + col;
        float value = alpha * acc;
        if (!(beta > 0f) && !(0f > beta))
            c[idx] = value;
        else
            c[idx] = beta * c[idx] + value;
    }
}

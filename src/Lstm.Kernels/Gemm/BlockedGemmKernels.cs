using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace Lstm.Kernels;

/// <summary>Four floats: one 16-byte shared-memory read (<c>ld.shared.v4.f32</c> on CUDA).</summary>
internal struct Float4
{
    public float X, Y, Z, W;
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
/// β·C + α·acc). Edge tiles are padded with zeros past K, and acc + 0·0 = acc. That is exactly
/// <see cref="GemmKernels.RowDot{T, TOps}"/>'s arithmetic, so on ILGPU's CPU accelerator each
/// output is bit for bit RowDot's, whichever kernel computes it and however many rows the
/// product has; on a GPU all these kernels and RowDot emit the same multiply-add form per
/// element. No kernel here splits K or reduces across threads: either would change the
/// summation order.
/// </para>
/// <para>
/// Edge loads are clamped, branch-free: a row, column or k past the matrix is clamped into it,
/// the load is made, and the value is replaced by 0 with a select (a multiply by 0 would turn an
/// infinity at the clamped address into NaN).
/// </para>
/// <para>
/// ILGPU does not unroll loops, so the multiply-add blocks are written out in
/// <c>BlockedGemmKernels.Generated.cs</c>, which the test project's <c>GemmCodeGenerator</c> writes.
/// </para>
/// </remarks>
public static partial class BlockedGemmKernels
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
    /// Launch with <see cref="Block128Config"/> (and, on CUDA, <c>KernelSpecialization(256, 2)</c>
    /// to keep the 64 accumulators in at most 128 registers). Each output sums k in order: see the
    /// class remarks.
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

        // Staging: 4 elements of op(A) and 4 of op(B) per thread and slab, consecutive threads
        // along the contiguous dimension of the stored matrix. Element i is
        // (row aR + i·aDR, k aK + i·aDK) of op(A), (k bK + i·bDK, column bC + i·bDC) of op(B).
        bool ta = shape.TransA != 0;
        bool tb = shape.TransB != 0;
        int aR = ta ? tid & 127 : tid >> 3;
        int aK = ta ? tid >> 7 : tid & 7;
        int aDR = ta ? 0 : 32;
        int aDK = ta ? 2 : 0;
        int bC = tb ? tid >> 3 : tid & 127;
        int bK = tb ? tid & 7 : tid >> 7;
        int bDC = tb ? 32 : 0;
        int bDK = tb ? 0 : 2;

        var ra = LoadA4(a, shape, m0 + aR, aDR, aK, aDK);
        var rb = LoadB4(b, shape, bK, bDK, n0 + bC, bDC);
        Stage4(shared, 0, Stride128, aR, aDR, aK, aDK, ra);
        Stage4(shared, SlabSize128, Stride128, bC, bDC, bK, bDK, rb);
        Group.Barrier();

        var acc = default(Acc8x8);
        int slabs = (shape.K + BlockK - 1) / BlockK;
        for (int s = 0; s < slabs; s++)
        {
            int cur = (s & 1) * Stage128;
            int next = Stage128 - cur;
            int k0 = (s + 1) * BlockK;
            // The next slab (all zeros past K) into registers while this one is computed.
            ra = LoadA4(a, shape, m0 + aR, aDR, k0 + aK, aDK);
            rb = LoadB4(b, shape, k0 + bK, bDK, n0 + bC, bDC);
            acc = Slab128(acc, s4.SubView((cur >> 2) + ty), s4.SubView(((cur + SlabSize128) >> 2) + tx));
            Stage4(shared, next, Stride128, aR, aDR, aK, aDK, ra);
            Stage4(shared, next + SlabSize128, Stride128, bC, bDC, bK, bDK, rb);
            Group.Barrier();
        }

        StoreTile128(acc, c, shape, m0 + 4 * ty, n0 + 4 * tx, alpha, beta);
    }

    /// <summary>
    /// 64×64 block tile: 256 threads, each 4×4 outputs (rows 4·ty … 4·ty+3, columns 4·tx …
    /// 4·tx+3), otherwise as <see cref="Block128"/> (BK = 8, double-buffered shared slabs with
    /// register staging, float4 shared reads, clamped loads, any shape). For products whose
    /// 128×128 tiles are too few to fill the device.
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

        // Staging: 2 elements of op(A) and 2 of op(B) per thread and slab (see Block128).
        bool ta = shape.TransA != 0;
        bool tb = shape.TransB != 0;
        int aR = ta ? tid & 63 : tid >> 3;
        int aK = ta ? tid >> 6 : tid & 7;
        int aDR = ta ? 0 : 32;
        int aDK = ta ? 4 : 0;
        int bC = tb ? tid >> 3 : tid & 63;
        int bK = tb ? tid & 7 : tid >> 6;
        int bDC = tb ? 32 : 0;
        int bDK = tb ? 0 : 4;

        var ra = LoadA2(a, shape, m0 + aR, aDR, aK, aDK);
        var rb = LoadB2(b, shape, bK, bDK, n0 + bC, bDC);
        Stage2(shared, 0, Stride64, aR, aDR, aK, aDK, ra);
        Stage2(shared, SlabSize64, Stride64, bC, bDC, bK, bDK, rb);
        Group.Barrier();

        var acc = default(Acc4x4);
        int slabs = (shape.K + BlockK - 1) / BlockK;
        for (int s = 0; s < slabs; s++)
        {
            int cur = (s & 1) * Stage64;
            int next = Stage64 - cur;
            int k0 = (s + 1) * BlockK;
            ra = LoadA2(a, shape, m0 + aR, aDR, k0 + aK, aDK);
            rb = LoadB2(b, shape, k0 + bK, bDK, n0 + bC, bDC);
            acc = Slab64(acc, s4.SubView((cur >> 2) + ty), s4.SubView(((cur + SlabSize64) >> 2) + tx));
            Stage2(shared, next, Stride64, aR, aDR, aK, aDK, ra);
            Stage2(shared, next + SlabSize64, Stride64, bC, bDC, bK, bDK, rb);
            Group.Barrier();
        }

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

        var acc = default(AccRows);
        for (int k0 = 0; k0 < shape.K; k0 += FewRowK)
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

    /// <summary>op(A)[row, k], clamped into the matrix, 0 outside it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float LoadA(ArrayView<float> a, GemmShape s, int row, int k)
    {
        int rc = row < s.M ? row : s.M - 1;
        int kc = k < s.K ? k : s.K - 1;
        long idx = s.TransA != 0 ? (long)kc * s.Lda + rc : (long)rc * s.Lda + kc;
        float v = a[idx];
        return (row < s.M) & (k < s.K) ? v : 0f;
    }

    /// <summary>op(B)[k, col], clamped into the matrix, 0 outside it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float LoadB(ArrayView<float> b, GemmShape s, int k, int col)
    {
        int cc = col < s.N ? col : s.N - 1;
        int kc = k < s.K ? k : s.K - 1;
        long idx = s.TransB != 0 ? (long)cc * s.Ldb + kc : (long)kc * s.Ldb + cc;
        float v = b[idx];
        return (col < s.N) & (k < s.K) ? v : 0f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Float4 LoadA4(ArrayView<float> a, GemmShape s, int row, int dRow, int k, int dK) => new()
    {
        X = LoadA(a, s, row, k),
        Y = LoadA(a, s, row + dRow, k + dK),
        Z = LoadA(a, s, row + 2 * dRow, k + 2 * dK),
        W = LoadA(a, s, row + 3 * dRow, k + 3 * dK),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Float4 LoadB4(ArrayView<float> b, GemmShape s, int k, int dK, int col, int dCol) => new()
    {
        X = LoadB(b, s, k, col),
        Y = LoadB(b, s, k + dK, col + dCol),
        Z = LoadB(b, s, k + 2 * dK, col + 2 * dCol),
        W = LoadB(b, s, k + 3 * dK, col + 3 * dCol),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Float4 LoadA2(ArrayView<float> a, GemmShape s, int row, int dRow, int k, int dK) => new()
    {
        X = LoadA(a, s, row, k),
        Y = LoadA(a, s, row + dRow, k + dK),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Float4 LoadB2(ArrayView<float> b, GemmShape s, int k, int dK, int col, int dCol) => new()
    {
        X = LoadB(b, s, k, col),
        Y = LoadB(b, s, k + dK, col + dCol),
    };

    /// <summary>Stores 4 staged values into a [BK][stride] slab at (k + i·dK, index + i·dIndex).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Stage4(ArrayView<float> shared, int offset, int stride, int index, int dIndex, int k, int dK, Float4 v)
    {
        shared[offset + k * stride + index] = v.X;
        shared[offset + (k + dK) * stride + index + dIndex] = v.Y;
        shared[offset + (k + 2 * dK) * stride + index + 2 * dIndex] = v.Z;
        shared[offset + (k + 3 * dK) * stride + index + 3 * dIndex] = v.W;
    }

    /// <summary>Stores 2 staged values (X, Y) into a [BK][stride] slab.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Stage2(ArrayView<float> shared, int offset, int stride, int index, int dIndex, int k, int dK, Float4 v)
    {
        shared[offset + k * stride + index] = v.X;
        shared[offset + (k + dK) * stride + index + dIndex] = v.Y;
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

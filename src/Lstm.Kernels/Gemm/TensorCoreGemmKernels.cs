using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Lstm.Kernels.Gemm;

/// <summary>
/// Float32 GEMMs on NVIDIA tensor cores (sm_80 and later) through inline PTX
/// (<see cref="CudaAsm"/>): <see cref="Tf32"/>, <see cref="ThreeTf32"/> and <see cref="Bf16"/>,
/// the reduced <see cref="GemmRounding"/>s. Operands and C are float32 in global memory; each
/// kernel rounds the operands with <see cref="ReducedPrecision"/> as it builds its fragments
/// (TF32: <c>cvt.rna.tf32.f32</c>'s rounding, to nearest with ties away from zero; BF16: to
/// nearest even) and accumulates in float32.
/// </summary>
/// <remarks>
/// <para><b>Blocking.</b> A group of 4 warps (128 threads) computes a 64×64 block of C. Each
/// k-tile stages op(A)[64, 16] and op(B)[16, 64] in shared memory (float32, zero outside
/// M, N, K, so any M, N, K ≥ 1, transposes and leading dimensions work); each warp then computes
/// a 32×32 sub-block as 2×4 mma tiles of 16×8, loading its fragments from shared memory with
/// the lane maps of <see cref="MmaLayout"/>. TF32 takes two m16n8k8 steps per k-tile, BF16 one
/// m16n8k16 step; 3xTF32 issues three m16n8k8 per step (lo_a·hi_b, hi_a·lo_b, hi_a·hi_b). The
/// fragments go to <c>mma.sync</c> as registers (<see cref="CudaAsm.Emit(string)"/> operands);
/// the 32 accumulators of a lane are PTX registers of their own, read out once after the k-loop,
/// so the k-loop touches no local memory.</para>
/// <para><b>Launch contract.</b> Explicitly grouped, with <see cref="Config"/>: grid
/// (⌈N/64⌉, ⌈M/64⌉), group (128, 1), 9.5 KB of static shared memory. Warps must be 32 lanes.
/// Run on a CUDA device of compute capability 8.0 or more, or, for testing, on an ILGPU CPU
/// accelerator with 32-lane warps and groups of at least 128 threads
/// (<c>new CPUDevice(32, 4, 1)</c>); <see cref="Supports"/> says which. Elsewhere (OpenCL, the
/// default 4-lane CPU accelerator) use <see cref="PrecisionGemmKernels.RowDot"/>.</para>
/// <para><b>Without tensor cores</b> (<c>CudaAsm.IsSupported</c> false) the same kernel runs an
/// emulated mma: each lane fetches, by warp shuffles from the lanes that hold them, the A and B
/// elements of its accumulator fragment and adds the reduced-precision products in k order. On
/// ILGPU's CPU accelerator the result is then bit for bit the one of
/// <see cref="PrecisionGemmKernels.RowDot"/> (and of its host twin). On the GPU the summation
/// order and rounding inside one mma are not specified by PTX, so GPU results agree with the
/// emulation within float32 accumulation error (a few K·2^-24 of Σ_k |a·b|), not bit for bit;
/// the operand rounding, which dominates for TF32 and BF16, is the same.</para>
/// </remarks>
internal static partial class TensorCoreGemmKernels
{
    /// <summary>Rows of C per group.</summary>
    public const int BlockM = 64;

    /// <summary>Columns of C per group.</summary>
    public const int BlockN = 64;

    /// <summary>The k-tile staged in shared memory.</summary>
    public const int BlockK = 16;

    /// <summary>Threads per group: 4 warps of 32.</summary>
    public const int GroupSize = 128;

    /// <summary>The warp size the fragment layouts assume.</summary>
    public const int WarpSize = 32;

    private const int WarpM = 32;
    private const int WarpN = 32;

    // Row strides of the shared tiles, padded so that a warp's fragment loads hit distinct banks.
    private const int AStride = BlockK + 4;
    private const int BStride = BlockN + 8;

    /// <summary>TF32 tensor-core GEMM: C = α·op(A)·op(B) + β·C with both operands rounded to TF32, m16n8k8 mma, float32 accumulation.</summary>
    /// <remarks>Launch with <see cref="Config"/> (see the class remarks).</remarks>
    /// <param name="a">A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="c">C, [M, Ldc].</param>
    /// <param name="shape">Sizes, strides and transposes.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="beta">Scale of the old C (0: C is not read).</param>
    public static void Tf32(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmShape shape, float alpha, float beta) =>
        Run<Tf32Math>(a, b, c, shape, alpha, beta);

    /// <summary>3xTF32 tensor-core GEMM: each operand split into TF32 hi and lo parts (<see cref="ReducedPrecision.SplitTf32"/>), three mma per k-step; close to FP32.</summary>
    /// <remarks>Launch with <see cref="Config"/> (see the class remarks).</remarks>
    /// <param name="a">A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="c">C, [M, Ldc].</param>
    /// <param name="shape">Sizes, strides and transposes.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="beta">Scale of the old C (0: C is not read).</param>
    public static void ThreeTf32(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmShape shape, float alpha, float beta) =>
        Run<ThreeTf32Math>(a, b, c, shape, alpha, beta);

    /// <summary>BF16 tensor-core GEMM: both operands rounded to BF16 (nearest even), m16n8k16 mma, float32 accumulation.</summary>
    /// <remarks>Launch with <see cref="Config"/> (see the class remarks).</remarks>
    /// <param name="a">A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="c">C, [M, Ldc].</param>
    /// <param name="shape">Sizes, strides and transposes.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="beta">Scale of the old C (0: C is not read).</param>
    public static void Bf16(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmShape shape, float alpha, float beta) =>
        Run<Bf16Math>(a, b, c, shape, alpha, beta);

    /// <summary>The launch configuration of every kernel of this class for a shape.</summary>
    /// <param name="shape">The product's shape.</param>
    public static KernelConfig Config(GemmShape shape) =>
        new(
            new Index2D((shape.N + BlockN - 1) / BlockN, (shape.M + BlockM - 1) / BlockM),
            new Index2D(GroupSize, 1));

    /// <summary>
    /// True when the kernels can run on <paramref name="accelerator"/>: a CUDA device of compute
    /// capability 8.0 or more (tensor cores), or an ILGPU CPU accelerator with 32-lane warps and
    /// groups of 128 threads (the emulated mma).
    /// </summary>
    /// <param name="accelerator">The accelerator.</param>
    public static bool Supports(Accelerator accelerator) => accelerator switch
    {
        CudaAccelerator cuda => cuda.Architecture >= CudaArchitecture.SM_80,
        CPUAccelerator cpu => cpu.WarpSize == WarpSize && cpu.MaxNumThreadsPerGroup >= GroupSize,
        _ => false,
    };

    /// <summary>
    /// The kernel of a reduced precision, for <c>accelerator.LoadStreamKernel(...)</c> or
    /// <c>LoadKernel</c>; launch it with <see cref="Config"/>.
    /// </summary>
    /// <param name="precision">TF32, 3xTF32 or BF16 (FP32 has no tensor-core kernel).</param>
    public static Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float> Kernel(GemmRounding precision) => precision switch
    {
        GemmRounding.Tf32 => Tf32,
        GemmRounding.ThreeTf32 => ThreeTf32,
        GemmRounding.Bf16 => Bf16,
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "FP32 has no tensor-core kernel"),
    };

    private static void Run<TMath>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmShape shape, float alpha, float beta)
        where TMath : struct, ITensorCoreMath
    {
        var math = default(TMath);
        var aTile = SharedMemory.Allocate<float>(BlockM * AStride);
        var bTile = SharedMemory.Allocate<float>(BlockK * BStride);
        int tid = Group.IdxX;
        int lane = Warp.LaneIdx;
        int warp = Warp.WarpIdx;
        int warpRow = (warp >> 1) * WarpM;
        int warpCol = (warp & 1) * WarpN;
        int row0 = Grid.IdxY * BlockM;
        int col0 = Grid.IdxX * BlockN;

        // The warp's 32×32 sub-block: accumulator tiles c{m}{n}, m-tile m (16 rows), n-tile n
        // (8 columns); tile index 4m + n. On CUDA they live in named PTX registers (see
        // HardwareAccumulator) and these locals are unused.
        Accumulator c00 = default, c01 = default, c02 = default, c03 = default;
        Accumulator c10 = default, c11 = default, c12 = default, c13 = default;
        if (CudaAsm.IsSupported)
            CudaAsm.Emit(DeclareAccumulators);

        // Without tensor cores every emulated mma costs 32 warp shuffles, so the emulation skips
        // the tiles that lie wholly outside C and the k-steps wholly past K (warp-uniform
        // conditions; their results are never stored, and padded k-steps only add zeros). On
        // CUDA every condition is true and the warp runs all of them.
        bool all = CudaAsm.IsSupported;
        int rowsLeft = shape.M - (row0 + warpRow);
        int colsLeft = shape.N - (col0 + warpCol);
        bool m0 = all || rowsLeft > 0, m1 = all || rowsLeft > MmaLayout.M;
        bool j0 = all || colsLeft > 0, j1 = all || colsLeft > MmaLayout.N;
        bool j2 = all || colsLeft > 2 * MmaLayout.N, j3 = all || colsLeft > 3 * MmaLayout.N;
        for (int k0 = 0; k0 < shape.K; k0 += BlockK)
        {
            StageTiles(a, b, shape, aTile, bTile, tid, row0, col0, k0);
            Group.Barrier();
            for (int ks = 0; ks < BlockK; ks += math.KStep)
            {
                var a0 = math.LoadA(aTile, warpRow, ks, lane);
                var a1 = math.LoadA(aTile, warpRow + MmaLayout.M, ks, lane);
                var b0 = math.LoadB(bTile, ks, warpCol, lane);
                var b1 = math.LoadB(bTile, ks, warpCol + MmaLayout.N, lane);
                var b2 = math.LoadB(bTile, ks, warpCol + 2 * MmaLayout.N, lane);
                var b3 = math.LoadB(bTile, ks, warpCol + 3 * MmaLayout.N, lane);
                if (!all && k0 + ks >= shape.K)
                    continue;
                if (m0 && j0)
                    c00 = math.Mma(c00, a0, b0, 0);
                if (m0 && j1)
                    c01 = math.Mma(c01, a0, b1, 1);
                if (m0 && j2)
                    c02 = math.Mma(c02, a0, b2, 2);
                if (m0 && j3)
                    c03 = math.Mma(c03, a0, b3, 3);
                if (m1 && j0)
                    c10 = math.Mma(c10, a1, b0, 4);
                if (m1 && j1)
                    c11 = math.Mma(c11, a1, b1, 5);
                if (m1 && j2)
                    c12 = math.Mma(c12, a1, b2, 6);
                if (m1 && j3)
                    c13 = math.Mma(c13, a1, b3, 7);
            }

            Group.Barrier();
        }

        if (CudaAsm.IsSupported)
        {
            c00 = HardwareAccumulator(0);
            c01 = HardwareAccumulator(1);
            c02 = HardwareAccumulator(2);
            c03 = HardwareAccumulator(3);
            c10 = HardwareAccumulator(4);
            c11 = HardwareAccumulator(5);
            c12 = HardwareAccumulator(6);
            c13 = HardwareAccumulator(7);
        }

        int r0 = row0 + warpRow;
        int r1 = r0 + MmaLayout.M;
        int n0 = col0 + warpCol;
        Store(c, shape, c00, r0, n0, lane, alpha, beta);
        Store(c, shape, c01, r0, n0 + MmaLayout.N, lane, alpha, beta);
        Store(c, shape, c02, r0, n0 + 2 * MmaLayout.N, lane, alpha, beta);
        Store(c, shape, c03, r0, n0 + 3 * MmaLayout.N, lane, alpha, beta);
        Store(c, shape, c10, r1, n0, lane, alpha, beta);
        Store(c, shape, c11, r1, n0 + MmaLayout.N, lane, alpha, beta);
        Store(c, shape, c12, r1, n0 + 2 * MmaLayout.N, lane, alpha, beta);
        Store(c, shape, c13, r1, n0 + 3 * MmaLayout.N, lane, alpha, beta);
    }

    /// <summary>
    /// Copies op(A)[row0.., k0..] into aTile ([64, AStride], k fastest) and op(B)[k0.., col0..]
    /// into bTile ([16, BStride], n fastest), zero outside the matrices. Consecutive threads read
    /// consecutive addresses of the stored layout (coalesced for either transpose).
    /// </summary>
    private static void StageTiles(
        ArrayView<float> a, ArrayView<float> b, GemmShape shape, ArrayView<float> aTile, ArrayView<float> bTile, int tid, int row0, int col0, int k0)
    {
        for (int e = tid; e < BlockM * BlockK; e += GroupSize)
        {
            int r = shape.TransA != 0 ? e % BlockM : e / BlockK;
            int kk = shape.TransA != 0 ? e / BlockM : e % BlockK;
            int gr = row0 + r;
            int gk = k0 + kk;
            float v = 0f;
            if (gr < shape.M && gk < shape.K)
                v = shape.TransA != 0 ? a[(long)gk * shape.Lda + gr] : a[(long)gr * shape.Lda + gk];
            aTile[r * AStride + kk] = v;
        }

        for (int e = tid; e < BlockK * BlockN; e += GroupSize)
        {
            int n = shape.TransB != 0 ? e / BlockK : e % BlockN;
            int kk = shape.TransB != 0 ? e % BlockK : e / BlockN;
            int gn = col0 + n;
            int gk = k0 + kk;
            float v = 0f;
            if (gn < shape.N && gk < shape.K)
                v = shape.TransB != 0 ? b[(long)gn * shape.Ldb + gk] : b[(long)gk * shape.Ldb + gn];
            bTile[kk * BStride + n] = v;
        }
    }

    /// <summary>Writes one 16×8 accumulator tile whose top-left element of C is (row, col).</summary>
    private static void Store(ArrayView<float> c, GemmShape shape, Accumulator acc, int row, int col, int lane, float alpha, float beta)
    {
        for (int i = 0; i < 4; i++)
        {
            int r = row + MmaLayout.CRow(lane, i);
            int n = col + MmaLayout.CCol(lane, i);
            if (r < shape.M && n < shape.N)
            {
                long idx = (long)r * shape.Ldc + n;
                c[idx] = PrecisionGemmKernels.Scale(acc.Get(i), alpha, beta, beta == 0f ? 0f : c[idx]);
            }
        }
    }

    /// <summary>One lane's four accumulators c0..c3 (rows and columns: <see cref="MmaLayout.CRow"/>, <see cref="MmaLayout.CCol"/>).</summary>
    private struct Accumulator
    {
        public float C0;
        public float C1;
        public float C2;
        public float C3;

        public readonly float Get(int i) => i == 0 ? C0 : i == 1 ? C1 : i == 2 ? C2 : C3;
    }

    /// <summary>
    /// One lane's A fragment: four .b32 registers H0..H3 (TF32: a0..a3; BF16: a0..a7 two to a
    /// register, low half first) and, for 3xTF32, the lo parts L0..L3.
    /// </summary>
    private struct AFragment
    {
        public uint H0;
        public uint H1;
        public uint H2;
        public uint H3;
        public uint L0;
        public uint L1;
        public uint L2;
        public uint L3;

        public readonly uint Hi(int r) => r == 0 ? H0 : r == 1 ? H1 : r == 2 ? H2 : H3;

        public readonly uint Lo(int r) => r == 0 ? L0 : r == 1 ? L1 : r == 2 ? L2 : L3;
    }

    /// <summary>One lane's B fragment: two .b32 registers H0, H1 and, for 3xTF32, the lo parts L0, L1.</summary>
    private struct BFragment
    {
        public uint H0;
        public uint H1;
        public uint L0;
        public uint L1;

        public readonly uint Hi(int r) => r == 0 ? H0 : H1;

        public readonly uint Lo(int r) => r == 0 ? L0 : L1;
    }

    /// <summary>The precision-specific part: fragment loads (with rounding) and the mma.</summary>
    private interface ITensorCoreMath
    {
        /// <summary>k per mma: 8 (TF32) or 16 (BF16).</summary>
        int KStep { get; }

        /// <summary>The A fragment of the 16×KStep tile at (row, k) of the shared A tile.</summary>
        AFragment LoadA(ArrayView<float> tile, int row, int k, int lane);

        /// <summary>The B fragment of the KStep×8 tile at (k, col) of the shared B tile.</summary>
        BFragment LoadB(ArrayView<float> tile, int k, int col, int lane);

        /// <summary>
        /// Accumulator tile <paramref name="tile"/> (0..7) += a·b. Without tensor cores the
        /// emulated mma returns c + a·b; on CUDA the tile is in PTX registers and c is returned unchanged.
        /// </summary>
        Accumulator Mma(Accumulator c, AFragment a, BFragment b, int tile);
    }

    private static float ATile(ArrayView<float> tile, int row, int k) => tile[row * AStride + k];

    private static float BTile(ArrayView<float> tile, int k, int col) => tile[k * BStride + col];

    private static uint Tf32Bits(float x) => Interop.FloatAsInt(ReducedPrecision.ToTf32(x));

    private static uint Bf16Pair(float low, float high) =>
        ReducedPrecision.ToBf16Bits(low) | ((uint)ReducedPrecision.ToBf16Bits(high) << 16);

    private static float Bf16Half(uint register, int half) => Interop.IntAsFloat(half == 0 ? register << 16 : register & 0xFFFF_0000u);

    private static float Shuffled(uint value, int sourceLane) => Interop.IntAsFloat(Warp.Shuffle(value, sourceLane));

    // On CUDA the 8 accumulator tiles of a warp (4 .f32 each) are PTX registers of their own,
    // lstm_acc0 .. lstm_acc31 (tile t: 4t .. 4t + 3), declared and zeroed once, updated in place
    // by each mma and read out after the k-loop. CudaAsm.EmitRef would pass the accumulators
    // through local memory around every mma; Emit passes the fragments in registers.
    private const string DeclareAccumulators =
        ".reg .f32 lstm_acc<32>;\n\t" +
        "mov.f32 lstm_acc0, 0f00000000; mov.f32 lstm_acc1, 0f00000000; mov.f32 lstm_acc2, 0f00000000; mov.f32 lstm_acc3, 0f00000000;\n\t" +
        "mov.f32 lstm_acc4, 0f00000000; mov.f32 lstm_acc5, 0f00000000; mov.f32 lstm_acc6, 0f00000000; mov.f32 lstm_acc7, 0f00000000;\n\t" +
        "mov.f32 lstm_acc8, 0f00000000; mov.f32 lstm_acc9, 0f00000000; mov.f32 lstm_acc10, 0f00000000; mov.f32 lstm_acc11, 0f00000000;\n\t" +
        "mov.f32 lstm_acc12, 0f00000000; mov.f32 lstm_acc13, 0f00000000; mov.f32 lstm_acc14, 0f00000000; mov.f32 lstm_acc15, 0f00000000;\n\t" +
        "mov.f32 lstm_acc16, 0f00000000; mov.f32 lstm_acc17, 0f00000000; mov.f32 lstm_acc18, 0f00000000; mov.f32 lstm_acc19, 0f00000000;\n\t" +
        "mov.f32 lstm_acc20, 0f00000000; mov.f32 lstm_acc21, 0f00000000; mov.f32 lstm_acc22, 0f00000000; mov.f32 lstm_acc23, 0f00000000;\n\t" +
        "mov.f32 lstm_acc24, 0f00000000; mov.f32 lstm_acc25, 0f00000000; mov.f32 lstm_acc26, 0f00000000; mov.f32 lstm_acc27, 0f00000000;\n\t" +
        "mov.f32 lstm_acc28, 0f00000000; mov.f32 lstm_acc29, 0f00000000; mov.f32 lstm_acc30, 0f00000000; mov.f32 lstm_acc31, 0f00000000;";

    private const string Acc0 = "{lstm_acc0,lstm_acc1,lstm_acc2,lstm_acc3}";
    private const string Acc1 = "{lstm_acc4,lstm_acc5,lstm_acc6,lstm_acc7}";
    private const string Acc2 = "{lstm_acc8,lstm_acc9,lstm_acc10,lstm_acc11}";
    private const string Acc3 = "{lstm_acc12,lstm_acc13,lstm_acc14,lstm_acc15}";
    private const string Acc4 = "{lstm_acc16,lstm_acc17,lstm_acc18,lstm_acc19}";
    private const string Acc5 = "{lstm_acc20,lstm_acc21,lstm_acc22,lstm_acc23}";
    private const string Acc6 = "{lstm_acc24,lstm_acc25,lstm_acc26,lstm_acc27}";
    private const string Acc7 = "{lstm_acc28,lstm_acc29,lstm_acc30,lstm_acc31}";
    private const string Fragments = ", {%0,%1,%2,%3}, {%4,%5}, ";
    private const string Tf32Op = "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 ";
    private const string Bf16Op = "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 ";

    /// <summary>Accumulator tile += A·B on the tensor cores (m16n8k8 TF32, or m16n8k16 BF16).</summary>
    private static void HardwareMma(int tile, bool bf16, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1)
    {
        if (bf16)
        {
            switch (tile)
            {
                case 0: CudaAsm.Emit(Bf16Op + Acc0 + Fragments + Acc0 + ";", a0, a1, a2, a3, b0, b1); break;
                case 1: CudaAsm.Emit(Bf16Op + Acc1 + Fragments + Acc1 + ";", a0, a1, a2, a3, b0, b1); break;
                case 2: CudaAsm.Emit(Bf16Op + Acc2 + Fragments + Acc2 + ";", a0, a1, a2, a3, b0, b1); break;
                case 3: CudaAsm.Emit(Bf16Op + Acc3 + Fragments + Acc3 + ";", a0, a1, a2, a3, b0, b1); break;
                case 4: CudaAsm.Emit(Bf16Op + Acc4 + Fragments + Acc4 + ";", a0, a1, a2, a3, b0, b1); break;
                case 5: CudaAsm.Emit(Bf16Op + Acc5 + Fragments + Acc5 + ";", a0, a1, a2, a3, b0, b1); break;
                case 6: CudaAsm.Emit(Bf16Op + Acc6 + Fragments + Acc6 + ";", a0, a1, a2, a3, b0, b1); break;
                default: CudaAsm.Emit(Bf16Op + Acc7 + Fragments + Acc7 + ";", a0, a1, a2, a3, b0, b1); break;
            }

            return;
        }

        switch (tile)
        {
            case 0: CudaAsm.Emit(Tf32Op + Acc0 + Fragments + Acc0 + ";", a0, a1, a2, a3, b0, b1); break;
            case 1: CudaAsm.Emit(Tf32Op + Acc1 + Fragments + Acc1 + ";", a0, a1, a2, a3, b0, b1); break;
            case 2: CudaAsm.Emit(Tf32Op + Acc2 + Fragments + Acc2 + ";", a0, a1, a2, a3, b0, b1); break;
            case 3: CudaAsm.Emit(Tf32Op + Acc3 + Fragments + Acc3 + ";", a0, a1, a2, a3, b0, b1); break;
            case 4: CudaAsm.Emit(Tf32Op + Acc4 + Fragments + Acc4 + ";", a0, a1, a2, a3, b0, b1); break;
            case 5: CudaAsm.Emit(Tf32Op + Acc5 + Fragments + Acc5 + ";", a0, a1, a2, a3, b0, b1); break;
            case 6: CudaAsm.Emit(Tf32Op + Acc6 + Fragments + Acc6 + ";", a0, a1, a2, a3, b0, b1); break;
            default: CudaAsm.Emit(Tf32Op + Acc7 + Fragments + Acc7 + ";", a0, a1, a2, a3, b0, b1); break;
        }
    }

    /// <summary>Reads accumulator tile <paramref name="tile"/> out of its PTX registers.</summary>
    private static Accumulator HardwareAccumulator(int tile)
    {
        ulong low, high;
        switch (tile)
        {
            case 0: CudaAsm.Emit("mov.b64 %0, {lstm_acc0,lstm_acc1};", out low); CudaAsm.Emit("mov.b64 %0, {lstm_acc2,lstm_acc3};", out high); break;
            case 1: CudaAsm.Emit("mov.b64 %0, {lstm_acc4,lstm_acc5};", out low); CudaAsm.Emit("mov.b64 %0, {lstm_acc6,lstm_acc7};", out high); break;
            case 2: CudaAsm.Emit("mov.b64 %0, {lstm_acc8,lstm_acc9};", out low); CudaAsm.Emit("mov.b64 %0, {lstm_acc10,lstm_acc11};", out high); break;
            case 3: CudaAsm.Emit("mov.b64 %0, {lstm_acc12,lstm_acc13};", out low); CudaAsm.Emit("mov.b64 %0, {lstm_acc14,lstm_acc15};", out high); break;
            case 4: CudaAsm.Emit("mov.b64 %0, {lstm_acc16,lstm_acc17};", out low); CudaAsm.Emit("mov.b64 %0, {lstm_acc18,lstm_acc19};", out high); break;
            case 5: CudaAsm.Emit("mov.b64 %0, {lstm_acc20,lstm_acc21};", out low); CudaAsm.Emit("mov.b64 %0, {lstm_acc22,lstm_acc23};", out high); break;
            case 6: CudaAsm.Emit("mov.b64 %0, {lstm_acc24,lstm_acc25};", out low); CudaAsm.Emit("mov.b64 %0, {lstm_acc26,lstm_acc27};", out high); break;
            default: CudaAsm.Emit("mov.b64 %0, {lstm_acc28,lstm_acc29};", out low); CudaAsm.Emit("mov.b64 %0, {lstm_acc30,lstm_acc31};", out high); break;
        }

        // mov.b64 d, {lo, hi} puts the first register in the low 32 bits.
        return new Accumulator
        {
            C0 = Interop.IntAsFloat((uint)low),
            C1 = Interop.IntAsFloat((uint)(low >> 32)),
            C2 = Interop.IntAsFloat((uint)high),
            C3 = Interop.IntAsFloat((uint)(high >> 32)),
        };
    }
}

using System.Reflection;
using ILGPU.Runtime;
using Lstm.Kernels.Cells;
using Lstm.Kernels.Gemm;

namespace Lstm.Kernels.Tests;

/// <summary>One kernel of <c>Lstm.Kernels</c> and what is promised of it.</summary>
/// <param name="Type">The static class that holds it.</param>
/// <param name="Name">The method's name.</param>
/// <param name="ExplicitGroups">True for a kernel launched with explicit groups (shared memory, barriers).</param>
/// <param name="Backends">The ILGPU back ends it runs on.</param>
/// <param name="Fallback">For a kernel that does not run on every back end, the listed kernel that takes its place on the others.</param>
/// <param name="MaxRegisters">The most registers a thread may use once assembled by ptxas for sm_80 … sm_90 (no spills either).</param>
/// <param name="Specialized">The values of its <c>SpecializedValue</c> parameters, in order, as the runtime launches it (null: none).</param>
/// <param name="MinFfmaShare">For a kernel whose speed is its FP32 arithmetic: the least share of FFMA among the instructions of its hot loop
/// (its largest innermost loop, NOPs left out) in its float32 sm_90 SASS (null: not checked).</param>
internal sealed record KernelEntry(Type Type, string Name, bool ExplicitGroups, KernelBackends Backends, string? Fallback, int MaxRegisters,
    object[]? Specialized = null, double? MinFfmaShare = null)
{
    /// <summary>
    /// The launch bounds it is compiled with (PTX <c>.maxntid</c>/<c>.minnctapersm</c>): what the runtime
    /// passes when it loads the kernel; none by default.
    /// </summary>
    public KernelSpecialization LaunchBounds { get; init; }

    /// <summary><c>Class.Method</c>.</summary>
    public string Qualified => Type.Name + "." + Name;

    private MethodInfo Open => Type.GetMethod(Name, BindingFlags.Public | BindingFlags.Static)!;

    /// <summary>The element types it is compiled for: float32 and float64 for a generic kernel, else float32.</summary>
    public IEnumerable<string> DTypes => Open.IsGenericMethodDefinition ? ["float32", "float64"] : ["float32"];

    /// <summary>The kernel method closed over the element type (and its arithmetic) of <paramref name="dtype"/>.</summary>
    public MethodInfo Method(string dtype)
    {
        var method = Open;
        if (!method.IsGenericMethodDefinition)
            return method;
        Type element = dtype == "float32" ? typeof(float) : typeof(double);
        Type ops = dtype == "float32" ? typeof(F32Ops) : typeof(F64Ops);
        return method.GetGenericArguments().Length == 2 ? method.MakeGenericMethod(element, ops) : method.MakeGenericMethod(element);
    }
}

/// <summary>
/// Every kernel, the ILGPU back ends it runs on and, for one that does not run on them all
/// (inline PTX and warp shuffles exist only for CUDA), the listed kernel that takes its place on the others.
/// The compile tests, the ptxas checks and the table of back ends all read this list; a test fails
/// when a kernel of the assembly is missing from it.
/// </summary>
internal static class KernelCatalog
{
    // MaxRegisters: the most ptxas 11.8 gives the kernel over sm_80, sm_86, sm_89 and sm_90 and over its element
    // types (bench/RESULTS.md, "PTX proxies"), plus a few, rounded up to a multiple of 8 (registers are allocated
    // to a warp 8 a thread at a time, so a count between two multiples costs the higher one).
    public static readonly KernelEntry[] All =
    [
        // Tile 16, as the runtime launches it on a GPU (ComputeDevice.TileFor with 1024 threads a group); the unrolled
        // k-loop holds 63-64 registers. 64 is a budget with no headroom on purpose: at 65 the allocation rounds up to 72
        // and an SM holds 3 of its 256-thread groups instead of 4.
        new(typeof(GemmKernels), nameof(GemmKernels.Tiled), true, KernelBackends.All, null, MaxRegisters: 64, Specialized: [16]),
        new(typeof(GemmKernels), nameof(GemmKernels.RowDot), false, KernelBackends.All, null, MaxRegisters: 48),
        // The FP32 family (plain C#: every back end). Block128 holds 64 accumulators and is loaded with launch
        // bounds (256, 2), two groups an SM: ptxas caps it at 128 registers, where it must fit without spilling
        // (124-128 on sm_80 ... sm_90). FewRow is checked at its largest rows per thread (4).
        new(typeof(BlockedGemmKernels), nameof(BlockedGemmKernels.Block128), true, KernelBackends.All, null, MaxRegisters: 128, MinFfmaShare: 0.7)
        {
            LaunchBounds = new KernelSpecialization(BlockedGemmKernels.BlockGroupSize, 2),
        },
        new(typeof(BlockedGemmKernels), nameof(BlockedGemmKernels.Block64), true, KernelBackends.All, null, MaxRegisters: 64, MinFfmaShare: 0.6),
        new(typeof(BlockedGemmKernels), nameof(BlockedGemmKernels.FewRow), true, KernelBackends.All, null, MaxRegisters: 48, Specialized: [4]),
        // Reduced precisions: the portable emulation on every back end, and tensor cores through inline PTX
        // (mma.sync) on CUDA and, through the emulated mma, on ILGPU's CPU accelerator with 32-lane warps.
        new(typeof(PrecisionGemmKernels), nameof(PrecisionGemmKernels.RowDot), false, KernelBackends.All, null, MaxRegisters: 64),
        new(typeof(TensorCoreGemmKernels), nameof(TensorCoreGemmKernels.Tf32), true, KernelBackends.IlgpuCpu | KernelBackends.Cuda, "PrecisionGemmKernels.RowDot", MaxRegisters: 96),
        new(typeof(TensorCoreGemmKernels), nameof(TensorCoreGemmKernels.ThreeTf32), true, KernelBackends.IlgpuCpu | KernelBackends.Cuda, "PrecisionGemmKernels.RowDot", MaxRegisters: 96),
        new(typeof(TensorCoreGemmKernels), nameof(TensorCoreGemmKernels.Bf16), true, KernelBackends.IlgpuCpu | KernelBackends.Cuda, "PrecisionGemmKernels.RowDot", MaxRegisters: 96),
        // Split-K: the partial products of K slices (Block64 and the tensor-core kernels on moved views, slice = grid z;
        // the rounded one-thread-per-output partial elsewhere) and the in-order reduction of the slices.
        new(typeof(SplitKGemmKernels), nameof(SplitKGemmKernels.Block64Partial), true, KernelBackends.All, null, MaxRegisters: 64, MinFfmaShare: 0.6),
        new(typeof(SplitKGemmKernels), nameof(SplitKGemmKernels.RoundedPartial), false, KernelBackends.All, null, MaxRegisters: 40),
        new(typeof(SplitKGemmKernels), nameof(SplitKGemmKernels.Reduce), false, KernelBackends.All, null, MaxRegisters: 32),
        new(typeof(TensorCoreGemmKernels), nameof(TensorCoreGemmKernels.Tf32Partial), true, KernelBackends.IlgpuCpu | KernelBackends.Cuda, "SplitKGemmKernels.RoundedPartial", MaxRegisters: 88),
        new(typeof(TensorCoreGemmKernels), nameof(TensorCoreGemmKernels.ThreeTf32Partial), true, KernelBackends.IlgpuCpu | KernelBackends.Cuda, "SplitKGemmKernels.RoundedPartial", MaxRegisters: 88),
        new(typeof(TensorCoreGemmKernels), nameof(TensorCoreGemmKernels.Bf16Partial), true, KernelBackends.IlgpuCpu | KernelBackends.Cuda, "SplitKGemmKernels.RoundedPartial", MaxRegisters: 80),
        new(typeof(LstmCellKernels), nameof(LstmCellKernels.ForwardTraining), false, KernelBackends.All, null, MaxRegisters: 48),
        new(typeof(LstmCellKernels), nameof(LstmCellKernels.ForwardInference), false, KernelBackends.All, null, MaxRegisters: 40),
        new(typeof(LstmCellKernels), nameof(LstmCellKernels.Backward), false, KernelBackends.All, null, MaxRegisters: 48),
        new(typeof(PersistentLstmKernels), nameof(PersistentLstmKernels.Forward), true, KernelBackends.IlgpuCpu | KernelBackends.Cuda, "LstmCellKernels.ForwardTraining", MaxRegisters: 56),
        new(typeof(PersistentLstmBackwardKernels), nameof(PersistentLstmBackwardKernels.Backward), true, KernelBackends.IlgpuCpu | KernelBackends.Cuda, "LstmCellKernels.Backward", MaxRegisters: 56),
        new(typeof(PersistentGruKernels), nameof(PersistentGruKernels.Forward), true, KernelBackends.IlgpuCpu | KernelBackends.Cuda, "GruCellKernels.ForwardTraining", MaxRegisters: 56),
        new(typeof(PersistentRnnKernels), nameof(PersistentRnnKernels.Forward), true, KernelBackends.IlgpuCpu | KernelBackends.Cuda, "RnnCellKernels.Forward", MaxRegisters: 48),
        new(typeof(PersistentGruBackwardKernels), nameof(PersistentGruBackwardKernels.Backward), true, KernelBackends.IlgpuCpu | KernelBackends.Cuda, "GruCellKernels.Backward", MaxRegisters: 56),
        new(typeof(PersistentRnnBackwardKernels), nameof(PersistentRnnBackwardKernels.Backward), true, KernelBackends.IlgpuCpu | KernelBackends.Cuda, "RnnCellKernels.Backward", MaxRegisters: 48),
        new(typeof(GruCellKernels), nameof(GruCellKernels.ForwardTraining), false, KernelBackends.All, null, MaxRegisters: 40),
        new(typeof(GruCellKernels), nameof(GruCellKernels.ForwardInference), false, KernelBackends.All, null, MaxRegisters: 40),
        new(typeof(GruCellKernels), nameof(GruCellKernels.Backward), false, KernelBackends.All, null, MaxRegisters: 40),
        new(typeof(RnnCellKernels), nameof(RnnCellKernels.Forward), false, KernelBackends.All, null, MaxRegisters: 32),
        new(typeof(RnnCellKernels), nameof(RnnCellKernels.Backward), false, KernelBackends.All, null, MaxRegisters: 24),
        new(typeof(DropoutKernels), nameof(DropoutKernels.Dropout), false, KernelBackends.All, null, MaxRegisters: 32),
        new(typeof(ElementwiseKernels), nameof(ElementwiseKernels.SumRows), false, KernelBackends.All, null, MaxRegisters: 32),
        new(typeof(ElementwiseKernels), nameof(ElementwiseKernels.SwapAxes01), false, KernelBackends.All, null, MaxRegisters: 40),
        new(typeof(ElementwiseKernels), nameof(ElementwiseKernels.AddRowBias), false, KernelBackends.All, null, MaxRegisters: 40),
        new(typeof(ElementwiseKernels), nameof(ElementwiseKernels.Axpy), false, KernelBackends.All, null, MaxRegisters: 24),
        new(typeof(ElementwiseKernels), nameof(ElementwiseKernels.Fill), false, KernelBackends.All, null, MaxRegisters: 24),
        new(typeof(GatherKernels), nameof(GatherKernels.GatherRows), false, KernelBackends.All, null, MaxRegisters: 32),
        new(typeof(OptimizerKernels), nameof(OptimizerKernels.Sgd), false, KernelBackends.All, null, MaxRegisters: 32),
        new(typeof(OptimizerKernels), nameof(OptimizerKernels.Adam), false, KernelBackends.All, null, MaxRegisters: 40),
        new(typeof(OptimizerKernels), nameof(OptimizerKernels.SumSquares), false, KernelBackends.All, null, MaxRegisters: 32),
        new(typeof(OptimizerKernels), nameof(OptimizerKernels.Scale), false, KernelBackends.All, null, MaxRegisters: 16),
        new(typeof(LossKernels), nameof(LossKernels.Mse), false, KernelBackends.All, null, MaxRegisters: 48),
        new(typeof(LossKernels), nameof(LossKernels.CrossEntropy), false, KernelBackends.All, null, MaxRegisters: 40),
        new(typeof(CtcKernels), nameof(CtcKernels.Ctc), false, KernelBackends.All, null, MaxRegisters: 64),
        new(typeof(SoftmaxKernels), nameof(SoftmaxKernels.LogSoftmax), false, KernelBackends.All, null, MaxRegisters: 40),
        new(typeof(EmbeddingKernels), nameof(EmbeddingKernels.Gather), false, KernelBackends.All, null, MaxRegisters: 24),
        new(typeof(EmbeddingKernels), nameof(EmbeddingKernels.ScatterAdd), false, KernelBackends.All, null, MaxRegisters: 40),
        new(typeof(AttentionKernels), nameof(AttentionKernels.Tanh), false, KernelBackends.All, null, MaxRegisters: 32),
        new(typeof(AttentionKernels), nameof(AttentionKernels.TanhBackward), false, KernelBackends.All, null, MaxRegisters: 24),
        new(typeof(AttentionKernels), nameof(AttentionKernels.MaskedSoftmax), false, KernelBackends.All, null, MaxRegisters: 32),
        new(typeof(AttentionKernels), nameof(AttentionKernels.SoftmaxBackward), false, KernelBackends.All, null, MaxRegisters: 40),
        new(typeof(AttentionKernels), nameof(AttentionKernels.MaskRows), false, KernelBackends.All, null, MaxRegisters: 24),
        new(typeof(AttentionKernels), nameof(AttentionKernels.AdditiveScores), false, KernelBackends.All, null, MaxRegisters: 40),
        new(typeof(AttentionKernels), nameof(AttentionKernels.AdditiveScoresBackward), false, KernelBackends.All, null, MaxRegisters: 48),
        new(typeof(BatchedGemmKernels), nameof(BatchedGemmKernels.Batched), false, KernelBackends.All, null, MaxRegisters: 64),
    ];

    public static KernelEntry Get(string qualified) => All.Single(k => k.Qualified == qualified);
}

/// <summary>The ILGPU back ends a kernel runs on.</summary>
[Flags]
public enum KernelBackends
{
    /// <summary>ILGPU's CPU accelerator (<c>ilgpu-cpu</c>).</summary>
    IlgpuCpu = 1,

    /// <summary>PTX on NVIDIA GPUs.</summary>
    Cuda = 2,

    /// <summary>OpenCL C on any OpenCL 2.0+ device with the generic address space.</summary>
    OpenCL = 4,

    /// <summary>Every ILGPU back end.</summary>
    All = IlgpuCpu | Cuda | OpenCL,
}

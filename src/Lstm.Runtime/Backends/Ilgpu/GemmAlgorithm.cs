using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Ilgpu;

/// <summary>Which matrix-product kernel a backend launches.</summary>
public enum GemmAlgorithm
{
    /// <summary>Shared-memory tiles with group barriers: the GPU kernel.</summary>
    Tiled,

    /// <summary>One thread per output element, no barriers: for ILGPU's CPU accelerator.</summary>
    RowDot,

    /// <summary>
    /// The host backend's GEMM (the <c>cpu</c> device): packed panels of A and B, a
    /// register-blocked vector FMA micro-kernel, cache blocking over K, all cores on large products.
    /// </summary>
    Packed,

    /// <summary>
    /// The register-blocked FP32 kernels, chosen per product by <see cref="GemmDispatch.Choose"/>
    /// (<see cref="FewRow"/>, <see cref="Blocked128"/> or <see cref="Blocked64"/>): the default on
    /// CUDA and OpenCL. float64 runs <see cref="Tiled"/>.
    /// </summary>
    Blocked,

    /// <summary><see cref="BlockedGemmKernels.Block128"/> for every float32 product (float64: <see cref="Tiled"/>).</summary>
    Blocked128,

    /// <summary><see cref="BlockedGemmKernels.Block64"/> for every float32 product (float64: <see cref="Tiled"/>).</summary>
    Blocked64,

    /// <summary><see cref="BlockedGemmKernels.FewRow"/> for every float32 product, whatever M (float64: <see cref="Tiled"/>).</summary>
    FewRow,

    /// <summary>
    /// A float32 product at a reduced <see cref="GemmPrecision"/> on tensor cores
    /// (<see cref="TensorCoreGemmKernels"/>, mma.sync): CUDA devices of compute capability 8.0 or more.
    /// </summary>
    TensorCores,

    /// <summary>
    /// A float32 product at a reduced <see cref="GemmPrecision"/> by
    /// <see cref="PrecisionGemmKernels.RowDot"/>, which rounds the operands as tensor cores do and
    /// sums in float32: every device without tensor cores.
    /// </summary>
    Rounded,

    /// <summary>
    /// Split-K (<see cref="SplitKGemmKernels"/>): K cut into contiguous slices, each slice's
    /// partial product by a block kernel into a workspace, then the partials summed in slice order
    /// with α and β; deterministic, but not the k-order sum. Chosen for a float32 product whose
    /// 64×64 tiles are too few to fill the device's multiprocessors and whose K is long (see
    /// <see cref="GemmDispatch.Plan"/>): at a reduced <see cref="GemmPrecision"/> always, at
    /// <see cref="GemmPrecision.Fp32"/> only when the device is configured with this algorithm,
    /// which gives up the in-order sums for those products and otherwise runs as
    /// <see cref="Blocked"/>.
    /// </summary>
    SplitK,
}

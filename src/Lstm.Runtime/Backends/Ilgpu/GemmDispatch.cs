using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Ilgpu;

/// <summary>Which GEMM kernel runs a product.</summary>
public static class GemmDispatch
{
    /// <summary>Most rows for which <see cref="GemmAlgorithm.Blocked"/> picks <see cref="GemmAlgorithm.FewRow"/>.</summary>
    public const int FewRowMaxRows = 16;

    /// <summary>Threads a group must hold for a forced kernel of the FP32 family (0: any; <see cref="GemmAlgorithm.Blocked"/> falls back to <see cref="GemmAlgorithm.Tiled"/> on small groups).</summary>
    /// <param name="algorithm">The kernel.</param>
    public static int GroupSize(GemmAlgorithm algorithm) => algorithm switch
    {
        GemmAlgorithm.Blocked128 or GemmAlgorithm.Blocked64 => BlockedGemmKernels.BlockGroupSize,
        GemmAlgorithm.FewRow => BlockedGemmKernels.FewRowGroupSize,
        _ => 0,
    };

    /// <summary>
    /// The kernel that runs one product: the configured algorithm itself, except
    /// <see cref="GemmAlgorithm.Blocked"/>, which picks by shape, and float64, which runs
    /// <see cref="GemmAlgorithm.Tiled"/> in place of any FP32-only kernel.
    /// </summary>
    /// <remarks>
    /// The rule for <see cref="GemmAlgorithm.Blocked"/> in float32: M ≤ <see cref="FewRowMaxRows"/>
    /// → <see cref="GemmAlgorithm.FewRow"/> (the per-step recurrent product at small batch);
    /// otherwise <see cref="GemmAlgorithm.Blocked128"/> when the 128×128 tiles, ⌈M/128⌉·⌈N/128⌉,
    /// are at least the device's multiprocessors (they fill it), else
    /// <see cref="GemmAlgorithm.Blocked64"/> (four times the groups); on a device whose groups
    /// hold fewer than 256 threads, <see cref="GemmAlgorithm.Tiled"/>. Every kernel sums each
    /// output over k in order, so the choice never changes a result's bits on ILGPU's CPU
    /// accelerator or OpenCL (the tests check it there).
    /// </remarks>
    /// <param name="configured">The device's algorithm.</param>
    /// <param name="float32">True for float32 products.</param>
    /// <param name="multiprocessors">The device's multiprocessors (compute units).</param>
    /// <param name="maxGroupSize">Most threads in one group on the device.</param>
    /// <param name="shape">The product.</param>
    /// <param name="precision">The precision of float32 products (a reduced one runs <see cref="GemmAlgorithm.TensorCores"/> where the device has them, else <see cref="GemmAlgorithm.Rounded"/>, whatever the configured algorithm).</param>
    /// <param name="tensorCores">True when the device runs <see cref="TensorCoreGemmKernels"/>.</param>
    public static GemmAlgorithm Choose(
        GemmAlgorithm configured, bool float32, int multiprocessors, int maxGroupSize, GemmShape shape, GemmPrecision precision = GemmPrecision.Fp32, bool tensorCores = false)
    {
        if (float32 && precision != GemmPrecision.Fp32)
            return tensorCores ? GemmAlgorithm.TensorCores : GemmAlgorithm.Rounded;
        switch (configured)
        {
            case GemmAlgorithm.Blocked128 or GemmAlgorithm.Blocked64 or GemmAlgorithm.FewRow:
                return float32 ? configured : GemmAlgorithm.Tiled;
            case GemmAlgorithm.Blocked:
                if (!float32 || maxGroupSize < BlockedGemmKernels.BlockGroupSize)
                    return GemmAlgorithm.Tiled;
                if (shape.M <= FewRowMaxRows)
                    return GemmAlgorithm.FewRow;
                long tiles = (long)((shape.M + 127) / 128) * ((shape.N + 127) / 128);
                return tiles >= multiprocessors ? GemmAlgorithm.Blocked128 : GemmAlgorithm.Blocked64;
            default:
                return configured;
        }
    }
}

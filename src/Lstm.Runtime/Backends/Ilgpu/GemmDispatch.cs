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
    /// The kernel that runs one product: <see cref="Plan"/>'s <see cref="GemmPlan.Kernel"/>.
    /// </summary>
    /// <param name="configured">The device's algorithm.</param>
    /// <param name="float32">True for float32 products.</param>
    /// <param name="multiprocessors">The device's multiprocessors (compute units).</param>
    /// <param name="maxGroupSize">Most threads in one group on the device.</param>
    /// <param name="shape">The product.</param>
    /// <param name="precision">The precision of float32 products.</param>
    /// <param name="tensorCores">True when the device runs <see cref="TensorCoreGemmKernels"/>.</param>
    public static GemmAlgorithm Choose(
        GemmAlgorithm configured, bool float32, int multiprocessors, int maxGroupSize, GemmShape shape, GemmPrecision precision = GemmPrecision.Fp32, bool tensorCores = false) =>
        Plan(configured, float32, multiprocessors, maxGroupSize, shape, precision, tensorCores).Kernel;

    /// <summary>
    /// How one product runs: the configured algorithm itself, except
    /// <see cref="GemmAlgorithm.Blocked"/> (and <see cref="GemmAlgorithm.SplitK"/>), which pick by
    /// shape, float64, which runs <see cref="GemmAlgorithm.Tiled"/> in place of any FP32-only
    /// kernel, a reduced precision, and split-K where a float32 product is too small to fill the device.
    /// </summary>
    /// <remarks>
    /// <para>The rule for <see cref="GemmAlgorithm.Blocked"/> in float32: M ≤ <see cref="FewRowMaxRows"/>
    /// → <see cref="GemmAlgorithm.FewRow"/> (the per-step recurrent product at small batch);
    /// otherwise <see cref="GemmAlgorithm.Blocked128"/> when the 128×128 tiles, ⌈M/128⌉·⌈N/128⌉,
    /// are at least the device's multiprocessors (they fill it), else
    /// <see cref="GemmAlgorithm.Blocked64"/> (four times the groups); on a device whose groups
    /// hold fewer than 256 threads, <see cref="GemmAlgorithm.Tiled"/>. Every kernel sums each
    /// output over k in order, so the choice never changes a result's bits on ILGPU's CPU
    /// accelerator or OpenCL (the tests check it there).</para>
    /// <para>A reduced precision runs <see cref="GemmAlgorithm.TensorCores"/> where the device has
    /// them, else <see cref="GemmAlgorithm.Rounded"/>, whatever the configured algorithm.</para>
    /// <para>Split-K (<see cref="SplitCount"/> slices ≥ 2) replaces that choice for a float32
    /// product at a reduced precision, and at <see cref="GemmPrecision.Fp32"/> only where the
    /// configured algorithm is <see cref="GemmAlgorithm.SplitK"/>: the default keeps FP32's
    /// in-order sums. Its partials run on <see cref="GemmAlgorithm.TensorCores"/> (reduced
    /// precision, tensor cores), <see cref="GemmAlgorithm.Blocked64"/> (FP32, groups of 256) or
    /// <see cref="GemmAlgorithm.Rounded"/> (one thread per partial output, elsewhere).</para>
    /// </remarks>
    /// <param name="configured">The device's algorithm.</param>
    /// <param name="float32">True for float32 products.</param>
    /// <param name="multiprocessors">The device's multiprocessors (compute units).</param>
    /// <param name="maxGroupSize">Most threads in one group on the device.</param>
    /// <param name="shape">The product.</param>
    /// <param name="precision">The precision of float32 products.</param>
    /// <param name="tensorCores">True when the device runs <see cref="TensorCoreGemmKernels"/>.</param>
    public static GemmPlan Plan(
        GemmAlgorithm configured, bool float32, int multiprocessors, int maxGroupSize, GemmShape shape, GemmPrecision precision = GemmPrecision.Fp32, bool tensorCores = false)
    {
        bool reduced = float32 && precision != GemmPrecision.Fp32;
        if (reduced || (float32 && configured == GemmAlgorithm.SplitK))
        {
            int splits = SplitCount(shape, multiprocessors);
            if (splits > 1)
            {
                var partial = reduced
                    ? tensorCores ? GemmAlgorithm.TensorCores : GemmAlgorithm.Rounded
                    : maxGroupSize >= BlockedGemmKernels.BlockGroupSize ? GemmAlgorithm.Blocked64 : GemmAlgorithm.Rounded;
                return new GemmPlan(GemmAlgorithm.SplitK, splits, SplitKGemmKernels.SliceK(shape.K, splits), partial);
            }
        }

        var kernel = Whole(configured, float32, multiprocessors, maxGroupSize, shape, precision, tensorCores);
        return new GemmPlan(kernel, 1, shape.K, kernel);
    }

    /// <summary>
    /// The slices split-K cuts a product into, 1 where it should not: the 64×64 tiles of C,
    /// ⌈M/64⌉·⌈N/64⌉, times the slices fill at most the device's multiprocessors
    /// (S = ⌊multiprocessors / tiles⌋), every slice keeps at least
    /// <see cref="SplitKGemmKernels.MinSliceK"/> of K, at most
    /// <see cref="SplitKGemmKernels.MaxSplits"/> slices; slices start at multiples of
    /// <see cref="SplitKGemmKernels.SliceAlign"/>, so S is ⌈K/sliceK⌉ for that slice length.
    /// </summary>
    /// <param name="shape">The product.</param>
    /// <param name="multiprocessors">The device's multiprocessors.</param>
    public static int SplitCount(GemmShape shape, int multiprocessors)
    {
        if (shape.M <= 0 || shape.N <= 0 || shape.K <= 0)
            return 1;
        const int t = SplitKGemmKernels.Tile;
        long tiles = (long)((shape.M + t - 1) / t) * ((shape.N + t - 1) / t);
        long wanted = Math.Min(Math.Min(multiprocessors / tiles, shape.K / SplitKGemmKernels.MinSliceK), SplitKGemmKernels.MaxSplits);
        if (wanted < 2)
            return 1;
        int splits = SplitKGemmKernels.Slices(shape.K, SplitKGemmKernels.SliceK(shape.K, (int)wanted));
        return splits < 2 ? 1 : splits;
    }

    private static GemmAlgorithm Whole(
        GemmAlgorithm configured, bool float32, int multiprocessors, int maxGroupSize, GemmShape shape, GemmPrecision precision, bool tensorCores)
    {
        if (float32 && precision != GemmPrecision.Fp32)
            return tensorCores ? GemmAlgorithm.TensorCores : GemmAlgorithm.Rounded;
        switch (configured)
        {
            case GemmAlgorithm.Blocked128 or GemmAlgorithm.Blocked64 or GemmAlgorithm.FewRow:
                return float32 ? configured : GemmAlgorithm.Tiled;
            case GemmAlgorithm.Blocked or GemmAlgorithm.SplitK:
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

/// <summary>How one product runs (<see cref="GemmDispatch.Plan"/>).</summary>
/// <param name="Kernel">The kernel: <see cref="GemmAlgorithm.SplitK"/> or one that runs the whole product.</param>
/// <param name="Splits">The slices of K: 1 unless <see cref="Kernel"/> is <see cref="GemmAlgorithm.SplitK"/>.</param>
/// <param name="SliceK">k per slice (K when not split).</param>
/// <param name="Partial">The kernel of each slice's partial product (<see cref="Kernel"/> when not split).</param>
public readonly record struct GemmPlan(GemmAlgorithm Kernel, int Splits, int SliceK, GemmAlgorithm Partial)
{
    /// <summary>The kernel, and for split-K the slices and the partials' kernel: <c>SplitKx8(TensorCores)</c>.</summary>
    public override string ToString() =>
        Kernel == GemmAlgorithm.SplitK ? $"{Kernel}x{Splits}({Partial})" : Kernel.ToString();
}

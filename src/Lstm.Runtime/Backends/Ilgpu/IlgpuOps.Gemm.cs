using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Ilgpu;

/// <content>
/// Matrix products: the FP32 family of register-blocked kernels (loaded where the device's groups
/// are large enough), the tiled and row-dot kernels for every type, and the choice among them
/// (<see cref="GemmDispatch"/>).
/// </content>
internal sealed partial class IlgpuOps<T, TOps>
{
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<T>, ArrayView<T>, GemmShape, T, T, SpecializedValue<int>> _gemmTiled =
        accelerator.LoadKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, GemmShape, T, T, SpecializedValue<int>>(GemmKernels.Tiled<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, GemmShape, T, T, int> _gemmRowDot =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, GemmShape, T, T, int>(GemmKernels.RowDot<T, TOps>);

    // The FP32 family. Block128 is loaded with launch bounds: at most 128 registers a thread,
    // two groups an SM (the bounds only reach PTX; other back ends ignore them).
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float>? _gemmBlock128 =
        typeof(T) == typeof(float) && accelerator.MaxNumThreadsPerGroup >= BlockedGemmKernels.BlockGroupSize
            ? accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float>(
                BlockedGemmKernels.Block128, new KernelSpecialization(BlockedGemmKernels.BlockGroupSize, 2))
            : null;

    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float>? _gemmBlock64 =
        typeof(T) == typeof(float) && accelerator.MaxNumThreadsPerGroup >= BlockedGemmKernels.BlockGroupSize
            ? accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float>(BlockedGemmKernels.Block64)
            : null;

    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float, int, SpecializedValue<int>>? _gemmFewRow =
        typeof(T) == typeof(float) && accelerator.MaxNumThreadsPerGroup >= BlockedGemmKernels.FewRowGroupSize
            ? accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float, int, SpecializedValue<int>>(BlockedGemmKernels.FewRow)
            : null;

    // Split-K: loaded for float32 where the dispatch may pick it (a reduced precision, or FP32 on a
    // device configured with GemmAlgorithm.SplitK); the workspace grows to the largest product.
    private static readonly bool SplitKFloat = typeof(T) == typeof(float);

    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, int>? _splitBlock64 =
        SplitKFloat && gemm == GemmAlgorithm.SplitK && precision == GemmPrecision.Fp32 && accelerator.MaxNumThreadsPerGroup >= BlockedGemmKernels.BlockGroupSize
            ? accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, int>(SplitKGemmKernels.Block64Partial)
            : null;

    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, int>? _splitTensorCores =
        SplitKFloat && precision != GemmPrecision.Fp32 && TensorCoreGemmKernels.Supports(accelerator)
            ? accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, int>(TensorCoreGemmKernels.PartialKernel((GemmRounding)precision))
            : null;

    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, int, int, int, int>? _splitRounded =
        SplitKFloat && (precision != GemmPrecision.Fp32 || gemm == GemmAlgorithm.SplitK)
            ? accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, int, int, int, int>(SplitKGemmKernels.RoundedPartial)
            : null;

    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, GemmShape, int, float, float, int>? _splitReduce =
        SplitKFloat && (precision != GemmPrecision.Fp32 || gemm == GemmAlgorithm.SplitK)
            ? accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, GemmShape, int, float, float, int>(SplitKGemmKernels.Reduce)
            : null;

    private MemoryBuffer1D<float, Stride1D.Dense>? _splitWorkspace;

    /// <summary>The GEMM algorithm this backend was configured with.</summary>
    public GemmAlgorithm Algorithm { get; } = gemm;

    /// <summary>The kernel that runs a product of this shape (see <see cref="GemmDispatch.Choose"/>).</summary>
    /// <param name="shape">The product.</param>
    public GemmAlgorithm KernelFor(GemmShape shape) => PlanFor(shape).Kernel;

    /// <summary>How a product of this shape runs: the kernel and, for split-K, its slices (see <see cref="GemmDispatch.Plan"/>).</summary>
    /// <param name="shape">The product.</param>
    public GemmPlan PlanFor(GemmShape shape) =>
        GemmDispatch.Plan(Algorithm, typeof(T) == typeof(float), _accelerator.NumMultiprocessors, _accelerator.MaxNumThreadsPerGroup, shape, _precision, _gemmTensorCores is not null);

    protected override void GemmCore(GemmShape shape, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c)
    {
        if (shape.M <= 0 || shape.N <= 0)
            return;
        if (shape.K == 0)
        {
            // An empty product: C = β·C.
            var ops = default(TOps);
            if (!ops.Greater(beta, ops.One) && !ops.Greater(ops.One, beta))
                return;
            if (!ops.Greater(beta, ops.Zero) && !ops.Greater(ops.Zero, beta))
            {
                for (int r = 0; r < shape.M; r++)
                    Fill(c.Slice((long)r * shape.Ldc, shape.N), ops.Zero);
                return;
            }

            throw new ArgumentException("GEMM with K = 0 and β other than 0 or 1 is not supported");
        }

        Launch(PlanFor(shape), shape, alpha, a, b, beta, c);
    }

    /// <remarks>
    /// Every kernel sums each element of C over K in order, whatever its row or M, so a part of
    /// the rows gives the bits of those rows of the whole product with any kernel. The kernel is
    /// still chosen by the whole product's shape, so the part runs the very kernel the whole
    /// product runs: the contract then also holds on a device whose compiler rounded two kernels'
    /// multiply-adds differently.
    /// </remarks>
    protected override void GemmRowsCore(GemmShape shape, int wholeRows, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c)
    {
        if (shape.M <= 0 || shape.N <= 0)
            return;
        if (shape.K == 0)
        {
            GemmCore(shape, alpha, a, b, beta, c);
            return;
        }

        Launch(PlanFor(shape with { M = wholeRows }), shape, alpha, a, b, beta, c);
    }

    private void Launch(GemmPlan plan, GemmShape shape, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c)
    {
        var kernel = plan.Kernel;
        switch (kernel)
        {
            case GemmAlgorithm.Tiled:
                _gemmTiled(_stream, GemmKernels.TiledConfig<T>(shape, _tile), View(a), View(b), View(c), shape, alpha, beta, SpecializedValue.New(_tile));
                break;
            case GemmAlgorithm.RowDot:
            {
                int threads = Threads((long)shape.M * shape.N);
                _gemmRowDot(_stream, threads, View(a), View(b), View(c), shape, alpha, beta, threads);
                break;
            }

            case GemmAlgorithm.Blocked128:
                Loaded(_gemmBlock128, kernel)(_stream, BlockedGemmKernels.Block128Config(shape), F32(a), F32(b), F32(c), shape, F32(alpha), F32(beta));
                break;
            case GemmAlgorithm.Blocked64:
                Loaded(_gemmBlock64, kernel)(_stream, BlockedGemmKernels.Block64Config(shape), F32(a), F32(b), F32(c), shape, F32(alpha), F32(beta));
                break;
            case GemmAlgorithm.FewRow:
            {
                var (slices, rows) = BlockedGemmKernels.FewRowLayout(shape.M);
                Loaded(_gemmFewRow, kernel)(
                    _stream, BlockedGemmKernels.FewRowConfig(shape, slices, rows), F32(a), F32(b), F32(c), shape, F32(alpha), F32(beta), slices, SpecializedValue.New(rows));
                break;
            }

            case GemmAlgorithm.TensorCores or GemmAlgorithm.Rounded:
                LaunchReduced(kernel, shape, alpha, a, b, beta, c);
                break;
            case GemmAlgorithm.SplitK:
                LaunchSplitK(plan, shape, F32(alpha), F32(a), F32(b), F32(beta), F32(c));
                break;
            default:
                throw new LstmException($"the {kernel} GEMM does not run on an ILGPU device");
        }
    }

    /// <summary>
    /// Split-K: the slices' partial products into the workspace [S, M, N] in one launch, then one
    /// thread per output sums them in slice order and stores α·sum (+ β·C). The plan's slices come
    /// from the whole product's shape (for a part of its rows too), so each output is cut and
    /// summed the same way in a part as in the whole.
    /// </summary>
    private void LaunchSplitK(GemmPlan plan, GemmShape shape, float alpha, ArrayView<float> a, ArrayView<float> b, float beta, ArrayView<float> c)
    {
        int slices = SplitKGemmKernels.Slices(shape.K, plan.SliceK);
        long plane = (long)shape.M * shape.N;
        long needed = plane * slices;
        if (_splitWorkspace is null || _splitWorkspace.Length < needed)
        {
            // Earlier products on the stream may still read the old workspace.
            _stream.Synchronize();
            _splitWorkspace?.Dispose();
            _splitWorkspace = _accelerator.Allocate1D<float>(needed);
        }

        var w = _splitWorkspace.View;
        switch (plan.Partial)
        {
            case GemmAlgorithm.TensorCores:
                Loaded(_splitTensorCores, GemmAlgorithm.SplitK)(_stream, TensorCoreGemmKernels.PartialConfig(shape, slices), a, b, w, shape, plan.SliceK);
                break;
            case GemmAlgorithm.Blocked64:
                Loaded(_splitBlock64, GemmAlgorithm.SplitK)(_stream, SplitKGemmKernels.Block64PartialConfig(shape, slices), a, b, w, shape, plan.SliceK);
                break;
            default:
            {
                int threads = Threads(needed);
                Loaded(_splitRounded, GemmAlgorithm.SplitK)(_stream, threads, a, b, w, shape, (int)_precision, plan.SliceK, slices, threads);
                break;
            }
        }

        int reduceThreads = Threads(plane);
        Loaded(_splitReduce, GemmAlgorithm.SplitK)(_stream, reduceThreads, w, c, shape, slices, alpha, beta, reduceThreads);
    }

    private TKernel Loaded<TKernel>(TKernel? kernel, GemmAlgorithm algorithm) where TKernel : class =>
        kernel ?? throw new LstmException(
            $"the {algorithm} GEMM is a float32 kernel for groups of {GemmDispatch.GroupSize(algorithm)} threads; this device's groups hold {_accelerator.MaxNumThreadsPerGroup}");

    /// <summary>A float32 slice as float (T is float wherever an FP32 kernel is chosen).</summary>
    private static ArrayView<float> F32(BufferSlice<T> s) => View(s).Cast<float>();

    private static float F32(T v) => Unsafe.As<T, float>(ref v);
}

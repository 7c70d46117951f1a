using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels;
using Lstm.Kernels.Cells;
using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Ilgpu;

/// <summary>
/// <see cref="IDeviceOps{T}"/> on an ILGPU accelerator. Every kernel is loaded once, when this
/// object is made, and launched on one stream.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
/// <typeparam name="TOps">The kernels' arithmetic for T.</typeparam>
internal sealed partial class IlgpuOps<T, TOps> : IDeviceOps<T>
    where T : unmanaged
    where TOps : struct, INumOps<T>
{
    private readonly Accelerator _accelerator;
    private readonly AcceleratorStream _stream;
    private readonly int _tile;
    private readonly int _maxThreads;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<T>, ArrayView<T>, GemmShape, T, T, SpecializedValue<int>> _gemmTiled;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, GemmShape, T, T, int> _gemmRowDot;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float>? _gemmBlock128;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float>? _gemmBlock64;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float, int, SpecializedValue<int>>? _gemmFewRow;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int> _cellForwardTraining;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int> _cellForwardInference;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int> _cellBackward;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, int, int, T, int> _sumRows;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, int, int, int, int> _swapAxes;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, int, int> _addRowBias;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, T, int> _axpy;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, T, int> _fill;

    /// <summary>Loads every kernel for the accelerator.</summary>
    /// <param name="accelerator">The accelerator.</param>
    /// <param name="gemm">The GEMM kernel to launch.</param>
    /// <param name="tile">The tile edge of the tiled GEMM (tile² ≤ the accelerator's group size).</param>
    /// <param name="maxThreads">Most threads one element-wise launch uses; kernels loop over the rest.</param>
    /// <param name="precision">The arithmetic of float32 products.</param>
    public IlgpuOps(Accelerator accelerator, GemmAlgorithm gemm, int tile, int maxThreads, GemmPrecision precision = GemmPrecision.Fp32)
    {
        _maxThreads = maxThreads;
        _accelerator = accelerator;
        _stream = accelerator.DefaultStream;
        Gemm = gemm;
        _tile = tile;
        _gemmTiled = accelerator.LoadKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, GemmShape, T, T, SpecializedValue<int>>(GemmKernels.Tiled<T, TOps>);
        _gemmRowDot = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, GemmShape, T, T, int>(GemmKernels.RowDot<T, TOps>);
        if (typeof(T) == typeof(float) && accelerator.MaxNumThreadsPerGroup >= BlockedGemmKernels.BlockGroupSize)
        {
            // The FP32 family. Block128 is loaded with launch bounds: at most 128 registers a thread,
            // two groups an SM (the bounds only reach PTX; other back ends ignore them).
            _gemmBlock128 = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float>(
                BlockedGemmKernels.Block128, new KernelSpecialization(BlockedGemmKernels.BlockGroupSize, 2));
            _gemmBlock64 = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float>(BlockedGemmKernels.Block64);
        }

        if (typeof(T) == typeof(float) && accelerator.MaxNumThreadsPerGroup >= BlockedGemmKernels.FewRowGroupSize)
            _gemmFewRow = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float, int, SpecializedValue<int>>(BlockedGemmKernels.FewRow);
        _cellForwardTraining = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int>(LstmCellKernels.ForwardTraining<T, TOps>);
        _cellForwardInference = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int, int>(LstmCellKernels.ForwardInference<T, TOps>);
        _cellBackward = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int>(LstmCellKernels.Backward<T, TOps>);
        _sumRows = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, int, int, T, int>(ElementwiseKernels.SumRows<T, TOps>);
        _swapAxes = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, int, int, int, int>(ElementwiseKernels.SwapAxes01<T>);
        _addRowBias = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, int, int>(ElementwiseKernels.AddRowBias<T, TOps>);
        _axpy = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, T, int>(ElementwiseKernels.Axpy<T, TOps>);
        _fill = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, T, int>(ElementwiseKernels.Fill<T>);
        LoadPrecisionKernels(precision);
    }

    /// <summary>The GEMM algorithm this backend was configured with.</summary>
    public GemmAlgorithm Gemm { get; }

    /// <summary>The kernel that runs a product of this shape (see <see cref="GemmDispatch.Choose"/>).</summary>
    /// <param name="shape">The product.</param>
    public GemmAlgorithm KernelFor(GemmShape shape) =>
        GemmDispatch.Choose(Gemm, typeof(T) == typeof(float), _accelerator.NumMultiprocessors, _accelerator.MaxNumThreadsPerGroup, shape, _precision, _gemmTensorCores is not null);

    private static ArrayView<T> View(BufferSlice<T> s) =>
        ((IlgpuBuffer<T>)s.Buffer).Memory.View.SubView(s.Offset, s.Length);

    private static ArrayView<T> View(BufferSlice<T>? s) => s is { } v ? View(v) : ArrayView<T>.Empty;

    private static int Count(long n) =>
        n <= int.MaxValue ? (int)n : throw new LstmException($"a kernel launch of {n} elements exceeds the 2^31 limit");

    /// <summary>Threads to launch for n elements (the kernels loop with this stride).</summary>
    private int Threads(long n) => (int)Math.Min(Count(n), _maxThreads);

    public DeviceBuffer<T> Allocate(long length)
    {
        var memory = _accelerator.Allocate1D<T>(Math.Max(length, 0));
        if (length > 0)
            memory.View.MemSetToZero(_stream);
        return new IlgpuBuffer<T>(memory);
    }

    public void Upload(ReadOnlySpan<T> source, BufferSlice<T> destination)
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"upload of {source.Length} elements into a slice of {destination.Length}");
        if (source.Length == 0)
            return;
        _stream.Synchronize();
        View(destination).CopyFromCPU(_stream, source);
    }

    public void Download(BufferSlice<T> source, Span<T> destination)
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"download of a slice of {source.Length} into {destination.Length} elements");
        if (source.Length == 0)
            return;
        _stream.Synchronize();
        View(source).CopyToCPU(_stream, destination);
        _stream.Synchronize();
    }

    public void Copy(BufferSlice<T> source, BufferSlice<T> destination)
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"copy of {source.Length} elements into a slice of {destination.Length}");
        if (source.Length > 0)
            View(source).CopyTo(_stream, View(destination));
    }

    public void Fill(BufferSlice<T> destination, T value)
    {
        if (destination.Length > 0)
            _fill(_stream, Threads(destination.Length), View(destination), value, Threads(destination.Length));
    }

    void IDeviceOps<T>.Gemm(GemmShape shape, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c)
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

        Launch(KernelFor(shape), shape, alpha, a, b, beta, c);
    }

    private void Launch(GemmAlgorithm kernel, GemmShape shape, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c)
    {
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
            default:
                throw new LstmException($"the {kernel} GEMM does not run on an ILGPU device");
        }
    }

    private TKernel Loaded<TKernel>(TKernel? kernel, GemmAlgorithm algorithm) where TKernel : class =>
        kernel ?? throw new LstmException(
            $"the {algorithm} GEMM is a float32 kernel for groups of {GemmDispatch.GroupSize(algorithm)} threads; this device's groups hold {_accelerator.MaxNumThreadsPerGroup}");

    /// <summary>A float32 slice as float (T is float wherever an FP32 kernel is chosen).</summary>
    private static ArrayView<float> F32(BufferSlice<T> s) => View(s).Cast<float>();

    private static float F32(T v) => Unsafe.As<T, float>(ref v);

    /// <remarks>
    /// Every kernel sums each element of C over K in order, whatever its row or M, so a part of
    /// the rows gives the bits of those rows of the whole product with any kernel. The kernel is
    /// still chosen by the whole product's shape, so the part runs the very kernel the whole
    /// product runs: the contract then also holds on a device whose compiler rounded two kernels'
    /// multiply-adds differently.
    /// </remarks>
    void IDeviceOps<T>.GemmRows(GemmShape shape, int wholeRows, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c)
    {
        if (shape.TransA != 0)
            throw new LstmException("gemm rows: op(A) must be A (the rows of a transposed A are not contiguous)");
        if (wholeRows < shape.M)
            throw new LstmException($"gemm rows: the whole product has {wholeRows} rows, fewer than the part's {shape.M}");
        if (shape.M <= 0 || shape.N <= 0)
            return;
        if (shape.K == 0)
        {
            ((IDeviceOps<T>)this).Gemm(shape, alpha, a, b, beta, c);
            return;
        }

        Launch(KernelFor(shape with { M = wholeRows }), shape, alpha, a, b, beta, c);
    }

    public void LstmCellForward(
        int batch, int hidden, BufferSlice<T> xproj, BufferSlice<T> hproj, BufferSlice<T>? biasIh, BufferSlice<T>? biasHh,
        BufferSlice<T> cPrev, BufferSlice<T> c, BufferSlice<T> h, BufferSlice<T>? acts)
    {
        int n = batch * hidden;
        if (n == 0)
            return;
        int hasBias = biasIh.HasValue && biasHh.HasValue ? 1 : 0;
        if (acts is { } a)
            _cellForwardTraining(_stream, Threads(n), View(xproj), View(hproj), View(biasIh), View(biasHh), View(cPrev), View(c), View(h), View(a), hidden, hasBias, n, Threads(n));
        else
            _cellForwardInference(_stream, Threads(n), View(xproj), View(hproj), View(biasIh), View(biasHh), View(cPrev), View(c), View(h), hidden, hasBias, n, Threads(n));
    }

    public void LstmCellBackward(
        int batch, int hidden, BufferSlice<T> dy, BufferSlice<T> dhRec, BufferSlice<T> dc, BufferSlice<T> acts,
        BufferSlice<T> c, BufferSlice<T> cPrev, BufferSlice<T> dgates)
    {
        int n = batch * hidden;
        if (n > 0)
            _cellBackward(_stream, Threads(n), View(dy), View(dhRec), View(dc), View(acts), View(c), View(cPrev), View(dgates), hidden, n, Threads(n));
    }

    public void SumRows(int rows, int cols, BufferSlice<T> source, T beta, BufferSlice<T> destination)
    {
        if (cols > 0)
            _sumRows(_stream, Threads(cols), View(source), View(destination), rows, cols, beta, Threads(cols));
    }

    public void SwapAxes01(int d0, int d1, int d2, BufferSlice<T> source, BufferSlice<T> destination)
    {
        long n = (long)d0 * d1 * d2;
        if (n > 0)
            _swapAxes(_stream, Threads(n), View(source), View(destination), d0, d1, d2, Threads(n));
    }

    public void AddRowBias(int cols, BufferSlice<T> y, BufferSlice<T> bias)
    {
        if (y.Length > 0)
            _addRowBias(_stream, Threads(y.Length), View(y), View(bias), cols, Threads(y.Length));
    }

    public void Axpy(T alpha, BufferSlice<T> x, BufferSlice<T> y)
    {
        if (y.Length > 0)
            _axpy(_stream, Threads(y.Length), View(x), View(y), alpha, Threads(y.Length));
    }

    public void Synchronize() => _stream.Synchronize();
}

using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels;
using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Ilgpu;

/// <summary>
/// <see cref="IDeviceOps{T}"/> on an ILGPU accelerator. Every kernel this object can launch is
/// loaded (compiled for the device) when it is made, each in its field's initializer, one file per
/// group of operations, so no compilation lands in a later call; all launch on one stream.
/// </summary>
/// <param name="accelerator">The accelerator.</param>
/// <param name="gemm">The GEMM kernel to launch.</param>
/// <param name="tile">The tile edge of the tiled GEMM (tile² ≤ the accelerator's group size).</param>
/// <param name="maxThreads">Most threads one element-wise launch uses; kernels loop over the rest.</param>
/// <param name="precision">The arithmetic of float32 products.</param>
/// <typeparam name="T">float or double.</typeparam>
/// <typeparam name="TOps">The kernels' arithmetic for T.</typeparam>
internal sealed partial class IlgpuOps<T, TOps>(Accelerator accelerator, GemmAlgorithm gemm, int tile, int maxThreads, GemmPrecision precision = GemmPrecision.Fp32)
    : DeviceOps<T>
    where T : unmanaged
    where TOps : struct, INumOps<T>
{
    private readonly Accelerator _accelerator = accelerator;
    private AcceleratorStream _stream = accelerator.DefaultStream;
    private readonly int _tile = tile;
    private readonly int _maxThreads = maxThreads;

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, int, int, T, int> _sumRows =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, int, int, T, int>(ElementwiseKernels.SumRows<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, int, int, int, int> _swapAxes =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, int, int, int, int>(ElementwiseKernels.SwapAxes01<T>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, int, int> _addRowBias =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, int, int>(ElementwiseKernels.AddRowBias<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, T, int> _axpy =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, ArrayView<T>, T, int>(ElementwiseKernels.Axpy<T, TOps>);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<T>, T, int> _fill =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<T>, T, int>(ElementwiseKernels.Fill<T>);

    private static ArrayView<T> View(BufferSlice<T> s) =>
        ((IlgpuBuffer<T>)s.Buffer).Memory.View.SubView(s.Offset, s.Length);

    private static ArrayView<T> View(BufferSlice<T>? s) => s is { } v ? View(v) : ArrayView<T>.Empty;

    private static int Count(long n) =>
        n <= int.MaxValue ? (int)n : throw new LstmException($"a kernel launch of {n} elements exceeds the 2^31 limit");

    /// <summary>Threads to launch for n elements (the kernels loop with this stride).</summary>
    private int Threads(long n) => (int)Math.Min(Count(n), _maxThreads);

    public override DeviceBuffer<T> Allocate(long length)
    {
        var memory = _accelerator.Allocate1D<T>(Math.Max(length, 0));
        if (length > 0)
            memory.View.MemSetToZero(_stream);
        return new IlgpuBuffer<T>(memory);
    }

    protected override void UploadCore(ReadOnlySpan<T> source, BufferSlice<T> destination)
    {
        if (source.Length == 0)
            return;
        _stream.Synchronize();
        View(destination).CopyFromCPU(_stream, source);
    }

    protected override void DownloadCore(BufferSlice<T> source, Span<T> destination)
    {
        if (source.Length == 0)
            return;
        _stream.Synchronize();
        View(source).CopyToCPU(_stream, destination);
        _stream.Synchronize();
    }

    protected override void CopyCore(BufferSlice<T> source, BufferSlice<T> destination)
    {
        if (source.Length > 0)
            View(source).CopyTo(_stream, View(destination));
    }

    public override void Fill(BufferSlice<T> destination, T value)
    {
        if (destination.Length > 0)
            _fill(_stream, Threads(destination.Length), View(destination), value, Threads(destination.Length));
    }

    protected override void SumRowsCore(int rows, int cols, BufferSlice<T> source, T beta, BufferSlice<T> destination)
    {
        if (cols > 0)
            _sumRows(_stream, Threads(cols), View(source), View(destination), rows, cols, beta, Threads(cols));
    }

    protected override void SwapAxes01Core(int d0, int d1, int d2, BufferSlice<T> source, BufferSlice<T> destination)
    {
        long n = (long)d0 * d1 * d2;
        if (n > 0)
            _swapAxes(_stream, Threads(n), View(source), View(destination), d0, d1, d2, Threads(n));
    }

    protected override void AddRowBiasCore(int cols, BufferSlice<T> y, BufferSlice<T> bias)
    {
        if (y.Length > 0)
            _addRowBias(_stream, Threads(y.Length), View(y), View(bias), cols, Threads(y.Length));
    }

    protected override void AxpyCore(T alpha, BufferSlice<T> x, BufferSlice<T> y)
    {
        if (y.Length > 0)
            _axpy(_stream, Threads(y.Length), View(x), View(y), alpha, Threads(y.Length));
    }

    public override void Synchronize() => _stream.Synchronize();
}

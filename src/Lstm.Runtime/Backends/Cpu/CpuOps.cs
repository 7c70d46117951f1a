namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// <see cref="IDeviceOps{T}"/> as vectorized host code: the <c>cpu</c> device. Every operation
/// runs synchronously on the calling thread (large GEMMs also on the other cores) and returns
/// when its result is in memory, so <see cref="Synchronize"/> has nothing to wait for.
/// </summary>
/// <remarks>
/// Dimension letters: B batch, T steps, I input size, H hidden size, G = 4H gate width.
/// One file per group of operations (<c>CpuOps.Gemm.cs</c>, <c>CpuOps.Lstm.cs</c>,
/// <c>CpuOps.Elementwise.cs</c>); the vectorized σ/tanh/exp are the vector forms of <see cref="Lstm.Kernels.SigmoidOperator"/>, <see cref="Lstm.Kernels.TanhOperator"/> and <see cref="Lstm.Kernels.ExpNonPositiveOperator"/>, and
/// the split of work across cores in <see cref="CpuParallel"/>. The GEMM's packing buffers are
/// cached on the instance, and so are the packed panels of the weights that few-row products
/// read at every step (<see cref="PackedOperandCache{T}"/>, invalidated by any write to the
/// weights' buffer), so the per-step operations allocate nothing once the first two steps have
/// sized and filled them. An LSTM direction's whole time loop is one more operation
/// (<see cref="ILstmSequenceOps{T}"/>, <c>CpuOps.LstmSequence.cs</c>): the cores stay inside it,
/// each on its share of the hidden units, and meet once per step. Operations may be issued from
/// several threads; each works on its own operands.
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
internal sealed partial class CpuOps<T> : DeviceOps<T> where T : unmanaged
{
    /// <summary>Creates the operations for float or double.</summary>
    /// <exception cref="NotSupportedException">T is neither float nor double.</exception>
    public CpuOps()
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
            throw new NotSupportedException($"element type {typeof(T).Name}: only float and double are supported");
    }

    public override DeviceBuffer<T> Allocate(long length) => new CpuBuffer<T>(Math.Max(length, 0));

    public override DeviceBuffer<T> AllocateUninitialized(long length) => new CpuBuffer<T>(Math.Max(length, 0), zeroed: false);

    protected override void UploadCore(ReadOnlySpan<T> source, BufferSlice<T> destination) =>
        source.CopyTo(CpuBuffer<T>.Span(destination));

    protected override void DownloadCore(BufferSlice<T> source, Span<T> destination) =>
        CpuBuffer<T>.ReadOnly(source).CopyTo(destination);

    protected override void CopyCore(BufferSlice<T> source, BufferSlice<T> destination) =>
        CpuBuffer<T>.ReadOnly(source).CopyTo(CpuBuffer<T>.Span(destination));

    public override void Fill(BufferSlice<T> destination, T value) => CpuBuffer<T>.Span(destination).Fill(value);

    /// <summary>Nothing to wait for: every operation has finished when it returns.</summary>
    public override void Synchronize()
    {
    }
}

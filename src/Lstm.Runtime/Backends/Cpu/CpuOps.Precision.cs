using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Cpu;

/// <content>
/// float32 products at a reduced <see cref="GemmPrecision"/>: the operands are rounded as tensor
/// cores round them (<see cref="ReducedPrecision"/>) into scratch buffers, and the float32 GEMM
/// multiplies the rounded copies. 3xTF32 is three such products, hi·hi + hi·lo + lo·hi, summed
/// into C in that order.
/// </content>
internal sealed partial class CpuOps<T>
{
    private readonly GemmPrecision _precision;
    private RoundedCopy _roundedA, _roundedB, _roundedALow, _roundedBLow;

    /// <summary>
    /// A scratch buffer holding the rounded copy of one operand, and which operand: the buffer's id,
    /// version, offset and length. A product whose operand is unchanged since (a weight at every
    /// step of the per-step loop) reuses the copy, which then keeps its own version, so the packed
    /// panels cached from it stay current too.
    /// </summary>
    private struct RoundedCopy
    {
        public CpuBuffer<T>? Scratch;
        public long SourceId, SourceVersion, Offset, Length;
    }

    /// <summary>Creates the operations for float or double with the precision of float32 products.</summary>
    /// <param name="precision">The arithmetic of float32 products (float64 products are always float64).</param>
    /// <exception cref="NotSupportedException">T is neither float nor double.</exception>
    public CpuOps(GemmPrecision precision)
        : this() => _precision = typeof(T) == typeof(float) ? precision : GemmPrecision.Fp32;

    /// <summary>The arithmetic of this backend's float32 products.</summary>
    public GemmPrecision Precision => _precision;

    /// <summary>True when products are not plain float32 (the whole-loop LSTM, which multiplies in place, then runs only at BF16 over wide panels: see <see cref="SequencePrecisionFits"/>).</summary>
    private bool Reduced => _precision != GemmPrecision.Fp32;

    /// <summary>The product of rounded copies of op(A) and op(B), its kernel chosen as for <paramref name="pathRows"/> rows.</summary>
    private void ReducedGemm(GemmShape shape, int pathRows, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c)
    {
        var aHigh = Rounded(ref _roundedA, a, low: false);
        var bHigh = Rounded(ref _roundedB, b, low: false);
        Gemm(shape, pathRows, alpha, aHigh, bHigh, beta, c, exact: true);
        if (_precision != GemmPrecision.ThreeTf32)
            return;
        var one = Scalar<T>.FromDouble(1.0);
        Gemm(shape, pathRows, alpha, aHigh, Rounded(ref _roundedBLow, b, low: true), one, c, exact: true);
        Gemm(shape, pathRows, alpha, Rounded(ref _roundedALow, a, low: true), bHigh, one, c, exact: true);
    }

    /// <summary>A copy of <paramref name="source"/> in a scratch buffer, each element rounded (or, with <paramref name="low"/>, the TF32 remainder x − TF32(x)); the last copy when the operand has not changed since.</summary>
    private BufferSlice<T> Rounded(ref RoundedCopy copy, BufferSlice<T> source, bool low)
    {
        var from = CpuBuffer<T>.Of(source);
        if (copy.Scratch is { } kept && copy.SourceId == from.Id && copy.SourceVersion == from.Version && copy.Offset == source.Offset && copy.Length == source.Length)
            return new BufferSlice<T>(kept, 0, source.Length);
        if (copy.Scratch is null || copy.Scratch.Length < source.Length)
        {
            copy.Scratch?.Dispose();
            copy.Scratch = new CpuBuffer<T>(Math.Max(source.Length, 1), zeroed: false);
        }

        (copy.SourceId, copy.SourceVersion, copy.Offset, copy.Length) = (from.Id, from.Version, source.Offset, source.Length);
        var slice = new BufferSlice<T>(copy.Scratch, 0, source.Length);
        if (_precision == GemmPrecision.Bf16)
        {
            // 16 lanes at a time (the input projection rounds all of x and W_ih every pass).
            RoundBf16(
                ref System.Runtime.InteropServices.MemoryMarshal.GetReference(CpuBuffer<T>.ReadOnly(source)),
                ref System.Runtime.InteropServices.MemoryMarshal.GetReference(CpuBuffer<T>.Span(slice)), (int)source.Length);
            return slice;
        }

        var values = System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(CpuBuffer<T>.ReadOnly(source));
        var to = System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(CpuBuffer<T>.Span(slice));
        for (int i = 0; i < values.Length; i++)
            to[i] = low ? ReducedPrecision.SplitTf32(values[i]).Lo : ReducedPrecision.ToTf32(values[i]);
        return slice;
    }
}

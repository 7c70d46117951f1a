using Lstm.Kernels;

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
    private HostBuffer<T>? _roundedA, _roundedB, _roundedALow, _roundedBLow;

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

    /// <summary>A copy of <paramref name="source"/> in a scratch buffer, each element rounded (or, with <paramref name="low"/>, the TF32 remainder x − TF32(x)).</summary>
    private BufferSlice<T> Rounded(ref HostBuffer<T>? scratch, BufferSlice<T> source, bool low)
    {
        if (scratch is null || scratch.Length < source.Length)
        {
            scratch?.Dispose();
            scratch = new HostBuffer<T>(Math.Max(source.Length, 1), zeroed: false);
        }

        var slice = new BufferSlice<T>(scratch, 0, source.Length);
        if (_precision == GemmPrecision.Bf16)
        {
            // 16 lanes at a time (the input projection rounds all of x and W_ih every pass).
            RoundBf16(
                ref System.Runtime.InteropServices.MemoryMarshal.GetReference(HostBuffer<T>.ReadOnly(source)),
                ref System.Runtime.InteropServices.MemoryMarshal.GetReference(HostBuffer<T>.Span(slice)), (int)source.Length);
            return slice;
        }

        var from = System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(HostBuffer<T>.ReadOnly(source));
        var to = System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(HostBuffer<T>.Span(slice));
        for (int i = 0; i < from.Length; i++)
        {
            float x = from[i];
            to[i] = _precision switch
            {
                GemmPrecision.Bf16 => ReducedPrecision.ToBf16(x),
                GemmPrecision.ThreeTf32 when low => ReducedPrecision.SplitTf32(x).Lo,
                _ => ReducedPrecision.ToTf32(x),
            };
        }

        return slice;
    }
}

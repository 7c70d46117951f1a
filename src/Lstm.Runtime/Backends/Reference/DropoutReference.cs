using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Reference;

/// <summary>
/// The reference of the dropout kernel (<c>DropoutKernels</c>): dropout in float64 with the
/// device generator's mask.
/// </summary>
public static class DropoutReference
{
    /// <summary>
    /// Dropout in float64 with the same mask as every device: y[i] = keep ? x[i] / (1 − p) : 0,
    /// keep = <see cref="Philox.Keep"/>(seed, stream, baseIndex + i, <see cref="Philox.DropThreshold"/>(p)).
    /// </summary>
    /// <param name="seed">The generator's seed.</param>
    /// <param name="stream">The stream.</param>
    /// <param name="baseIndex">Index of x[0] in the logical tensor.</param>
    /// <param name="p">Drop probability in [0, 1).</param>
    /// <param name="x">[n].</param>
    /// <param name="y">[n] out; may be the same memory as x.</param>
    public static void Dropout(ulong seed, ulong stream, long baseIndex, double p, ReadOnlySpan<double> x, Span<double> y)
    {
        if (!(p >= 0 && p < 1))
            throw new LstmException($"dropout probability {p} is outside [0, 1)");
        if (x.Length != y.Length)
            throw new LstmException($"dropout of {x.Length} elements into {y.Length}");
        uint threshold = Philox.DropThreshold(p);
        double scale = 1 / (1 - p);
        for (int i = 0; i < x.Length; i++)
            y[i] = Philox.Keep(seed, stream, baseIndex + i, threshold) ? x[i] * scale : 0;
    }
}

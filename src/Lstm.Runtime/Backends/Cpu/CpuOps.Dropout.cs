using System.Runtime.CompilerServices;
using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// Dropout with the device's counter-based generator: the semantics of
/// <see cref="DropoutKernels.Dropout{T, TOps}"/>, calling <see cref="Philox.Keep"/> itself, so the
/// host draws bit for bit the mask every other back end draws (it depends on seed, stream and the
/// element's logical index only, never on how the work is split). Large tensors are split into
/// contiguous ranges across cores.
/// </summary>
internal sealed partial class CpuOps<T>
{
    /// <summary>Element operations one Philox4x32-10 draw costs (ten rounds of two 32×32→64 products and XORs).</summary>
    private const long DropoutWorkPerElement = 64;

    public void Dropout(ulong seed, ulong stream, long baseIndex, T p, BufferSlice<T> x, BufferSlice<T> y)
    {
        double pd = Scalar<T>.ToDouble(p);
        if (!(pd >= 0 && pd < 1))
            throw new LstmException($"dropout probability {pd} is outside [0, 1)");
        if (baseIndex < 0)
            throw new LstmException($"dropout base index {baseIndex} is negative");
        if (x.Length != y.Length)
            throw new LstmException($"dropout of {x.Length} elements into a slice of {y.Length}");
        if (y.Length == 0)
            return;
        uint threshold = Philox.DropThreshold(pd);
        if (threshold == 0)
        {
            // p = 0 keeps every element and scales by exactly 1: the identity.
            if (!x.Equals(y))
                Copy(x, y);
            return;
        }

        // scale = 1 / (1 − p) rounded in T, as the device computes it.
        T scale = typeof(T) == typeof(float)
            ? (T)(object)(1f / (1f - (float)(object)p))
            : (T)(object)(1.0 / (1.0 - (double)(object)p));
        int n = (int)y.Length;
        var args = new DropoutArgs(seed, stream, baseIndex, threshold, scale, x, y);
        HostParallel.For(n, HostParallel.Chunks(n, n * DropoutWorkPerElement), args, static (a, i0, i1) => DropoutRange(a, i0, i1));
    }

    /// <summary>The dropout call's operands.</summary>
    /// <param name="Seed">The generator's seed.</param>
    /// <param name="Stream">The stream.</param>
    /// <param name="BaseIndex">Logical index of x[0].</param>
    /// <param name="Threshold"><see cref="Philox.DropThreshold"/> of p.</param>
    /// <param name="Scale">1 / (1 − p) in T.</param>
    /// <param name="X">[n].</param>
    /// <param name="Y">[n] out; may be X.</param>
    private readonly record struct DropoutArgs(
        ulong Seed, ulong Stream, long BaseIndex, uint Threshold, T Scale, BufferSlice<T> X, BufferSlice<T> Y);

    /// <summary>Elements [i0, i1).</summary>
    private static void DropoutRange(DropoutArgs args, int i0, int i1)
    {
        ref T rX = ref HostBuffer<T>.Ref(args.X);
        ref T rY = ref HostBuffer<T>.Ref(args.Y);
        for (int i = i0; i < i1; i++)
        {
            Unsafe.Add(ref rY, i) = Philox.Keep(args.Seed, args.Stream, args.BaseIndex + i, args.Threshold)
                ? Scalar<T>.Mul(Unsafe.Add(ref rX, i), args.Scale)
                : default;
        }
    }
}

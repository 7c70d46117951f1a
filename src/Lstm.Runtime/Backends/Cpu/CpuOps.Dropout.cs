using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// Dropout with the device's counter-based generator: the semantics of
/// <see cref="DropoutKernels.Dropout{T, TOps}"/>, calling <see cref="Philox.Keep"/> itself, so the
/// host draws bit for bit the mask every other back end draws (it depends on seed, stream and the
/// element's logical index only, never on how the work is split). Eight elements at a time run
/// Philox4x32-10 in <see cref="Vector256{T}"/> lanes (the 32×32→64-bit products widened to 64-bit
/// lanes), the same integer arithmetic as <see cref="Philox.Philox4x32x10"/>; the tail, and a
/// block whose counters cross a 2^32 boundary, call <see cref="Philox.Keep"/>. Large tensors are
/// split into contiguous ranges across cores.
/// </summary>
internal sealed partial class CpuOps<T>
{
    /// <summary>Element operations one Philox4x32-10 draw costs (ten rounds of two 32×32→64 products and XORs).</summary>
    private const long DropoutWorkPerElement = 64;

    protected override void DropoutCore(ulong seed, ulong stream, long baseIndex, T p, BufferSlice<T> x, BufferSlice<T> y)
    {
        if (y.Length == 0)
            return;
        uint threshold = Philox.DropThreshold(Scalar<T>.ToDouble(p));
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
        CpuParallel.For(n, CpuParallel.Chunks(n, n * DropoutWorkPerElement), args, static (a, i0, i1) => DropoutRange(a, i0, i1));
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
        ref T rX = ref CpuBuffer<T>.Ref(args.X);
        ref T rY = ref CpuBuffer<T>.Ref(args.Y);
        int i = i0;
        if (Vector256.IsHardwareAccelerated)
        {
            var threshold = Vector256.Create(args.Threshold);
            var lanes = Vector256.Create(0u, 1u, 2u, 3u, 4u, 5u, 6u, 7u);
            for (; i <= i1 - 8; i += 8)
            {
                ulong first = (ulong)(args.BaseIndex + i);
                uint low = (uint)first;
                // Counters whose low words wrap inside the block take the scalar path.
                if (low > uint.MaxValue - 7)
                    break;
                var bits = PhiloxWord0(lanes + Vector256.Create(low), Vector256.Create((uint)(first >> 32)), args.Seed, args.Stream);
                var keep = Vector256.GreaterThanOrEqual(Vector256.ShiftRightLogical(bits, 8), threshold);
                StoreDropout(keep, ref Unsafe.Add(ref rX, i), ref Unsafe.Add(ref rY, i), args.Scale);
            }
        }

        for (; i < i1; i++)
        {
            Unsafe.Add(ref rY, i) = Philox.Keep(args.Seed, args.Stream, args.BaseIndex + i, args.Threshold)
                ? Scalar<T>.Mul(Unsafe.Add(ref rX, i), args.Scale)
                : default;
        }
    }

    /// <summary>y = keep ? x·scale : 0 for the eight elements at x and y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreDropout(Vector256<uint> keep, ref T x, ref T y, T scale)
    {
        if (typeof(T) == typeof(float))
        {
            var v = Vector256.LoadUnsafe(ref Unsafe.As<T, float>(ref x)) * Vector256.Create((float)(object)scale);
            Vector256.ConditionalSelect(keep.AsSingle(), v, Vector256<float>.Zero).StoreUnsafe(ref Unsafe.As<T, float>(ref y));
            return;
        }

        // Two registers of four doubles; the mask widened with its sign so each lane is all ones or zeros.
        var (lo, hi) = Vector256.Widen(keep.AsInt32());
        var s = Vector256.Create((double)(object)scale);
        ref double xd = ref Unsafe.As<T, double>(ref x);
        ref double yd = ref Unsafe.As<T, double>(ref y);
        var a = Vector256.LoadUnsafe(ref xd) * s;
        var b = Vector256.LoadUnsafe(ref xd, 4) * s;
        Vector256.ConditionalSelect(lo.AsDouble(), a, Vector256<double>.Zero).StoreUnsafe(ref yd);
        Vector256.ConditionalSelect(hi.AsDouble(), b, Vector256<double>.Zero).StoreUnsafe(ref yd, 4);
    }

    /// <summary>
    /// Word 0 of Philox4x32-10 for eight counters (index low words <paramref name="c0"/>, index high
    /// words <paramref name="c1"/>, the stream's two words) under the seed's key: lane by lane what
    /// <see cref="Philox.DropoutBits"/> returns.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> PhiloxWord0(Vector256<uint> c0, Vector256<uint> c1, ulong seed, ulong stream)
    {
        var c2 = Vector256.Create((uint)stream);
        var c3 = Vector256.Create((uint)(stream >> 32));
        uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
        for (int round = 0; round < 10; round++)
        {
            if (round > 0)
            {
                k0 += 0x9E3779B9u;
                k1 += 0xBB67AE85u;
            }

            var (hi0, lo0) = MulHiLo(c0, 0xD2511F53u);
            var (hi1, lo1) = MulHiLo(c2, 0xCD9E8D57u);
            var n0 = hi1 ^ c1 ^ Vector256.Create(k0);
            var n2 = hi0 ^ c3 ^ Vector256.Create(k1);
            c0 = n0;
            c1 = lo1;
            c2 = n2;
            c3 = lo0;
        }

        return c0;
    }

    /// <summary>The high and low 32 bits of the 64-bit products a·m, lane by lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<uint> Hi, Vector256<uint> Lo) MulHiLo(Vector256<uint> a, uint m)
    {
        var (lower, upper) = Vector256.Widen(a);
        var mm = Vector256.Create((ulong)m);
        var p0 = lower * mm;
        var p1 = upper * mm;
        return (Vector256.Narrow(Vector256.ShiftRightLogical(p0, 32), Vector256.ShiftRightLogical(p1, 32)), Vector256.Narrow(p0, p1));
    }
}

using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// Vectorized σ, tanh and e^x (x ≤ 0) on <see cref="Vector{T}"/> lanes for the host backend:
/// the same range-reduced polynomials as <see cref="Lstm.Kernels.F32Ops"/> and
/// <see cref="Lstm.Kernels.F64Ops"/> (the GPU kernels' precise math), lane by lane, so the
/// <c>cpu</c> device computes the function every other back end computes.
/// </summary>
/// <remarks>
/// <code>
/// e^x = 2^k · p(r),  x = k·ln2 + r, |r| ≤ ln2/2, p a Taylor polynomial (degree 7 for float32, 13 for float64)
/// σ(x) = 1 / (1 + e^-x) for x ≥ 0,  e^x / (1 + e^x) for x &lt; 0
/// tanh(x) = sign(x) (1 - e^-2|x|) / (1 + e^-2|x|)
/// </code>
/// The <see cref="Vector512{T}"/> float32 overloads (16 lanes, for AVX-512 machines, where
/// <see cref="Vector{T}"/> has 8) run the same operations in the same order, so every lane
/// equals the <see cref="Vector{T}"/> result bit for bit.
/// The clamp and the float-to-integer step use the hardware's own min, max and truncation
/// (<c>MinNative</c>, <c>MaxNative</c>, <c>ConvertToInt32Native</c>): on the clamped range they
/// equal the IEEE and saturating forms, without those forms' extra fix-up instructions. The
/// hardware max returns its second operand when either is NaN, so the argument stands second
/// and a NaN reaches the result.
/// Measured against float64 <see cref="Math.Exp(double)"/>: float32 σ and tanh agree within a
/// few 1e-8 (a few ulps of 1), float64 within 1e-16.
/// </remarks>
internal static class HostMath
{
    /// <summary>σ of every lane.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Sigmoid<T>(Vector<T> x) where T : unmanaged
    {
        var e = ExpNonPositive(-Vector.Abs(x));
        var one = Vector<T>.One;
        var positive = one / (one + e);
        return Vector.ConditionalSelect(Vector.GreaterThanOrEqual(x, Vector<T>.Zero), positive, e * positive);
    }

    /// <summary>tanh of every lane.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Tanh<T>(Vector<T> x) where T : unmanaged
    {
        var ax = Vector.Abs(x);
        var e = ExpNonPositive(-(ax + ax));
        var one = Vector<T>.One;
        var t = (one - e) / (one + e);
        return Vector.ConditionalSelect(Vector.LessThan(x, Vector<T>.Zero), -t, t);
    }

    /// <summary>e^x of every lane for x ≤ 0 (x &gt; 0 counts as 0); underflows to 0.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> ExpNonPositive<T>(Vector<T> x) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return ExpNonPositive(x.As<T, float>()).As<float, T>();
        return ExpNonPositive(x.As<T, double>()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> ExpNonPositive(Vector<float> x)
    {
        var underflow = Vector.LessThan(x, new Vector<float>(-87.3f));
        x = Vector.MinNative(Vector<float>.Zero, Vector.MaxNative(new Vector<float>(-87.3f), x));
        var k = Vector.ConvertToInt32Native(x * new Vector<float>(1.44269504088896341f) - new Vector<float>(0.5f));
        var kf = Vector.ConvertToSingle(k);
        var r = x - kf * new Vector<float>(0.693145751953125f) - kf * new Vector<float>(1.42860682030941723212e-6f);
        var p = new Vector<float>(1f / 5040f);
        p = p * r + new Vector<float>(1f / 720f);
        p = p * r + new Vector<float>(1f / 120f);
        p = p * r + new Vector<float>(1f / 24f);
        p = p * r + new Vector<float>(1f / 6f);
        p = p * r + new Vector<float>(0.5f);
        p = p * r + Vector<float>.One;
        p = p * r + Vector<float>.One;
        var scale = Vector.AsVectorSingle(Vector.ShiftLeft(k + new Vector<int>(127), 23));
        return Vector.ConditionalSelect(underflow, Vector<float>.Zero, p * scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> ExpNonPositive(Vector<double> x)
    {
        var underflow = Vector.LessThan(x, new Vector<double>(-708.0));
        x = Vector.MinNative(Vector<double>.Zero, Vector.MaxNative(new Vector<double>(-708.0), x));
        var k = Vector.ConvertToInt64Native(x * new Vector<double>(1.4426950408889634074) - new Vector<double>(0.5));
        var kd = Vector.ConvertToDouble(k);
        var r = x - kd * new Vector<double>(6.93147180369123816490e-01) - kd * new Vector<double>(1.90821492927058770002e-10);
        var p = new Vector<double>(1.0 / 6227020800.0);
        p = p * r + new Vector<double>(1.0 / 479001600.0);
        p = p * r + new Vector<double>(1.0 / 39916800.0);
        p = p * r + new Vector<double>(1.0 / 3628800.0);
        p = p * r + new Vector<double>(1.0 / 362880.0);
        p = p * r + new Vector<double>(1.0 / 40320.0);
        p = p * r + new Vector<double>(1.0 / 5040.0);
        p = p * r + new Vector<double>(1.0 / 720.0);
        p = p * r + new Vector<double>(1.0 / 120.0);
        p = p * r + new Vector<double>(1.0 / 24.0);
        p = p * r + new Vector<double>(1.0 / 6.0);
        p = p * r + new Vector<double>(0.5);
        p = p * r + Vector<double>.One;
        p = p * r + Vector<double>.One;
        var scale = Vector.AsVectorDouble(Vector.ShiftLeft(k + new Vector<long>(1023), 52));
        return Vector.ConditionalSelect(underflow, Vector<double>.Zero, p * scale);
    }

    /// <summary>σ of every lane (16 float32 lanes; bit-identical to the <see cref="Vector{T}"/> overload).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> x)
    {
        var e = ExpNonPositive(-Vector512.Abs(x));
        var one = Vector512<float>.One;
        var positive = one / (one + e);
        return Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<float>.Zero), positive, e * positive);
    }

    /// <summary>tanh of every lane (16 float32 lanes; bit-identical to the <see cref="Vector{T}"/> overload).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> x)
    {
        var ax = Vector512.Abs(x);
        var e = ExpNonPositive(-(ax + ax));
        var one = Vector512<float>.One;
        var t = (one - e) / (one + e);
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), -t, t);
    }

    /// <summary>e^x of every lane for x ≤ 0 (16 float32 lanes; bit-identical to the <see cref="Vector{T}"/> overload).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ExpNonPositive(Vector512<float> x)
    {
        var underflow = Vector512.LessThan(x, Vector512.Create(-87.3f));
        x = Vector512.MinNative(Vector512<float>.Zero, Vector512.MaxNative(Vector512.Create(-87.3f), x));
        var k = Vector512.ConvertToInt32Native(x * Vector512.Create(1.44269504088896341f) - Vector512.Create(0.5f));
        var kf = Vector512.ConvertToSingle(k);
        var r = x - kf * Vector512.Create(0.693145751953125f) - kf * Vector512.Create(1.42860682030941723212e-6f);
        var p = Vector512.Create(1f / 5040f);
        p = p * r + Vector512.Create(1f / 720f);
        p = p * r + Vector512.Create(1f / 120f);
        p = p * r + Vector512.Create(1f / 24f);
        p = p * r + Vector512.Create(1f / 6f);
        p = p * r + Vector512.Create(0.5f);
        p = p * r + Vector512<float>.One;
        p = p * r + Vector512<float>.One;
        var scale = Vector512.ShiftLeft(k + Vector512.Create(127), 23).AsSingle();
        return Vector512.ConditionalSelect(underflow, Vector512<float>.Zero, p * scale);
    }

    /// <summary>
    /// σ of two registers at once, each lane as <see cref="Sigmoid(Vector512{float})"/> computes it
    /// (bit for bit): the two chains of dependent operations interleaved, so the core overlaps them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Sigmoid(ref Vector512<float> x0, ref Vector512<float> x1)
    {
        var e0 = -Vector512.Abs(x0);
        var e1 = -Vector512.Abs(x1);
        ExpNonPositive(ref e0, ref e1);
        var one = Vector512<float>.One;
        var p0 = one / (one + e0);
        var p1 = one / (one + e1);
        x0 = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x0, Vector512<float>.Zero), p0, e0 * p0);
        x1 = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x1, Vector512<float>.Zero), p1, e1 * p1);
    }

    /// <summary>tanh of two registers at once, each lane as <see cref="Tanh(Vector512{float})"/> computes it (bit for bit), the two chains interleaved.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Tanh(ref Vector512<float> x0, ref Vector512<float> x1)
    {
        var a0 = Vector512.Abs(x0);
        var a1 = Vector512.Abs(x1);
        var e0 = -(a0 + a0);
        var e1 = -(a1 + a1);
        ExpNonPositive(ref e0, ref e1);
        var one = Vector512<float>.One;
        var t0 = (one - e0) / (one + e0);
        var t1 = (one - e1) / (one + e1);
        x0 = Vector512.ConditionalSelect(Vector512.LessThan(x0, Vector512<float>.Zero), -t0, t0);
        x1 = Vector512.ConditionalSelect(Vector512.LessThan(x1, Vector512<float>.Zero), -t1, t1);
    }

    /// <summary>e^x of two registers at once (x ≤ 0), each lane as <see cref="ExpNonPositive(Vector512{float})"/> computes it (bit for bit), the two chains interleaved.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ExpNonPositive(ref Vector512<float> x0, ref Vector512<float> x1)
    {
        var lo = Vector512.Create(-87.3f);
        var u0 = Vector512.LessThan(x0, lo);
        var u1 = Vector512.LessThan(x1, lo);
        var y0 = Vector512.MinNative(Vector512<float>.Zero, Vector512.MaxNative(lo, x0));
        var y1 = Vector512.MinNative(Vector512<float>.Zero, Vector512.MaxNative(lo, x1));
        var k0 = Vector512.ConvertToInt32Native(y0 * Vector512.Create(1.44269504088896341f) - Vector512.Create(0.5f));
        var k1 = Vector512.ConvertToInt32Native(y1 * Vector512.Create(1.44269504088896341f) - Vector512.Create(0.5f));
        var f0 = Vector512.ConvertToSingle(k0);
        var f1 = Vector512.ConvertToSingle(k1);
        var r0 = y0 - f0 * Vector512.Create(0.693145751953125f) - f0 * Vector512.Create(1.42860682030941723212e-6f);
        var r1 = y1 - f1 * Vector512.Create(0.693145751953125f) - f1 * Vector512.Create(1.42860682030941723212e-6f);
        var p0 = Vector512.Create(1f / 5040f);
        var p1 = p0;
        p0 = p0 * r0 + Vector512.Create(1f / 720f);
        p1 = p1 * r1 + Vector512.Create(1f / 720f);
        p0 = p0 * r0 + Vector512.Create(1f / 120f);
        p1 = p1 * r1 + Vector512.Create(1f / 120f);
        p0 = p0 * r0 + Vector512.Create(1f / 24f);
        p1 = p1 * r1 + Vector512.Create(1f / 24f);
        p0 = p0 * r0 + Vector512.Create(1f / 6f);
        p1 = p1 * r1 + Vector512.Create(1f / 6f);
        p0 = p0 * r0 + Vector512.Create(0.5f);
        p1 = p1 * r1 + Vector512.Create(0.5f);
        p0 = p0 * r0 + Vector512<float>.One;
        p1 = p1 * r1 + Vector512<float>.One;
        p0 = p0 * r0 + Vector512<float>.One;
        p1 = p1 * r1 + Vector512<float>.One;
        var s0 = Vector512.ShiftLeft(k0 + Vector512.Create(127), 23).AsSingle();
        var s1 = Vector512.ShiftLeft(k1 + Vector512.Create(127), 23).AsSingle();
        x0 = Vector512.ConditionalSelect(u0, Vector512<float>.Zero, p0 * s0);
        x1 = Vector512.ConditionalSelect(u1, Vector512<float>.Zero, p1 * s1);
    }
}

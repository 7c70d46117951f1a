using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Lstm.Kernels;

/// <summary>
/// tanh(x), precise for every x: the scalar form the kernels use (through <see cref="F32Ops"/>
/// and <see cref="F64Ops"/>) and the vector forms the <c>cpu</c> backend uses, all built on
/// <see cref="ExpNonPositiveOperator"/> so every device computes the same function bit for bit.
/// </summary>
/// <remarks>
/// <code>
/// tanh(x) = sign(x) (1 - e^-2|x|) / (1 + e^-2|x|)
/// </code>
/// No approximate hardware instruction (<c>tanh.approx</c>) is involved. NaN stays NaN; ±∞ give ±1.
/// </remarks>
internal static class TanhOperator
{
    /// <summary>tanh(x), float32 (the kernels' form).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float x)
    {
        float ax = x < 0f ? -x : x;
        float e = ExpNonPositiveOperator.Invoke(-2f * ax);
        float t = (1f - e) / (1f + e);
        return x < 0f ? -t : t;
    }

    /// <summary>tanh(x), float64 (the kernels' form).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double x)
    {
        double ax = x < 0.0 ? -x : x;
        double e = ExpNonPositiveOperator.Invoke(-2.0 * ax);
        double t = (1.0 - e) / (1.0 + e);
        return x < 0.0 ? -t : t;
    }

    /// <summary>tanh of every lane.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Invoke<T>(Vector<T> x) where T : unmanaged
    {
        var ax = Vector.Abs(x);
        var e = ExpNonPositiveOperator.Invoke(-(ax + ax));
        var one = Vector<T>.One;
        var t = (one - e) / (one + e);
        return Vector.ConditionalSelect(Vector.LessThan(x, Vector<T>.Zero), -t, t);
    }

    /// <summary>tanh of 16 float32 lanes, the same operations in the same order as the <see cref="Vector{T}"/> form.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> x)
    {
        var ax = Vector512.Abs(x);
        var e = ExpNonPositiveOperator.Invoke(-(ax + ax));
        var one = Vector512<float>.One;
        var t = (one - e) / (one + e);
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), -t, t);
    }

    /// <summary>tanh of two registers at once, each lane as <see cref="Invoke(Vector512{float})"/> computes it (bit for bit), the two chains interleaved.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Invoke(ref Vector512<float> x0, ref Vector512<float> x1)
    {
        var a0 = Vector512.Abs(x0);
        var a1 = Vector512.Abs(x1);
        var e0 = -(a0 + a0);
        var e1 = -(a1 + a1);
        ExpNonPositiveOperator.Invoke(ref e0, ref e1);
        var one = Vector512<float>.One;
        var t0 = (one - e0) / (one + e0);
        var t1 = (one - e1) / (one + e1);
        x0 = Vector512.ConditionalSelect(Vector512.LessThan(x0, Vector512<float>.Zero), -t0, t0);
        x1 = Vector512.ConditionalSelect(Vector512.LessThan(x1, Vector512<float>.Zero), -t1, t1);
    }
}

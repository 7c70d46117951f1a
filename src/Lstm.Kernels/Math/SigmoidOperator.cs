using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Lstm.Kernels;

/// <summary>
/// σ(x) = 1 / (1 + e^-x), precise for every x: the scalar form the kernels use (through
/// <see cref="F32Ops"/> and <see cref="F64Ops"/>) and the vector forms the <c>cpu</c> backend
/// uses, all built on <see cref="ExpNonPositiveOperator"/> so every device computes the same
/// function bit for bit.
/// </summary>
/// <remarks>
/// <code>
/// σ(x) = 1 / (1 + e^-x) for x ≥ 0,  e^x / (1 + e^x) for x &lt; 0
/// </code>
/// The vector forms compute e = e^-|x| and p = 1 / (1 + e) and select p or e·p, which are the
/// scalar form's two branches. NaN stays NaN; ±∞ give 1 and 0.
/// </remarks>
internal static class SigmoidOperator
{
    /// <summary>σ(x), float32 (the kernels' form).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float x)
    {
        if (x >= 0f)
            return 1f / (1f + ExpNonPositiveOperator.Invoke(-x));
        float e = ExpNonPositiveOperator.Invoke(x);
        return e / (1f + e);
    }

    /// <summary>σ(x), float64 (the kernels' form).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double x)
    {
        if (x >= 0.0)
            return 1.0 / (1.0 + ExpNonPositiveOperator.Invoke(-x));
        double e = ExpNonPositiveOperator.Invoke(x);
        return e / (1.0 + e);
    }

    /// <summary>σ of every lane.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Invoke<T>(Vector<T> x) where T : unmanaged
    {
        var e = ExpNonPositiveOperator.Invoke(-Vector.Abs(x));
        var one = Vector<T>.One;
        var positive = one / (one + e);
        return Vector.ConditionalSelect(Vector.GreaterThanOrEqual(x, Vector<T>.Zero), positive, e * positive);
    }

    /// <summary>σ of 16 float32 lanes, the same operations in the same order as the <see cref="Vector{T}"/> form.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> x)
    {
        var e = ExpNonPositiveOperator.Invoke(-Vector512.Abs(x));
        var one = Vector512<float>.One;
        var positive = one / (one + e);
        return Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<float>.Zero), positive, e * positive);
    }

    /// <summary>
    /// σ of two registers at once, each lane as <see cref="Invoke(Vector512{float})"/> computes it
    /// (bit for bit): the two chains of dependent operations interleaved, so the core overlaps them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Invoke(ref Vector512<float> x0, ref Vector512<float> x1)
    {
        var e0 = -Vector512.Abs(x0);
        var e1 = -Vector512.Abs(x1);
        ExpNonPositiveOperator.Invoke(ref e0, ref e1);
        var one = Vector512<float>.One;
        var p0 = one / (one + e0);
        var p1 = one / (one + e1);
        x0 = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x0, Vector512<float>.Zero), p0, e0 * p0);
        x1 = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x1, Vector512<float>.Zero), p1, e1 * p1);
    }
}

using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using ILGPU;

namespace Lstm.Kernels;

/// <summary>
/// e^x for x ≤ 0 (x &gt; 0 counts as 0), underflowing to 0: the scalar form the kernels use
/// (through <see cref="F32Ops"/> and <see cref="F64Ops"/>) and the vector forms the <c>cpu</c>
/// backend uses, one range-reduced polynomial with one set of constants, so every device computes
/// the same function bit for bit.
/// </summary>
/// <remarks>
/// <code>
/// e^x = 2^k · p(r),  x = k·ln2 + r, |r| ≤ ln2/2, p the Taylor polynomial of e^r (degree 7 for float32, 13 for float64)
/// </code>
/// ln2 is split into a high part whose products with k are exact and a low part. Only add,
/// multiply and bit operations are used, so no approximate hardware instruction
/// (<c>ex2.approx</c>) is involved. The vector forms clamp and truncate with the hardware's own
/// min, max and float-to-integer conversion (<c>MinNative</c>, <c>MaxNative</c>,
/// <c>ConvertToInt32Native</c>): on the clamped range they equal the scalar form's comparisons
/// and cast. The hardware max returns its second operand when either is NaN, so the argument
/// stands second and a NaN reaches the result. Relative error: below 6e-9 (float32) and 1e-17
/// (float64) for the polynomial on |r| ≤ 0.347.
/// </remarks>
internal static class ExpNonPositiveOperator
{
    private const float F32Underflow = -87.3f;
    private const float F32Log2E = 1.44269504088896341f;
    private const float F32Ln2Hi = 0.693145751953125f;
    private const float F32Ln2Lo = 1.42860682030941723212e-6f;
    private const float F32P7 = 1f / 5040f;
    private const float F32P6 = 1f / 720f;
    private const float F32P5 = 1f / 120f;
    private const float F32P4 = 1f / 24f;
    private const float F32P3 = 1f / 6f;
    private const float F32P2 = 0.5f;

    private const double F64Underflow = -708.0;
    private const double F64Log2E = 1.4426950408889634074;
    private const double F64Ln2Hi = 6.93147180369123816490e-01;
    private const double F64Ln2Lo = 1.90821492927058770002e-10;
    private const double F64P13 = 1.0 / 6227020800.0;
    private const double F64P12 = 1.0 / 479001600.0;
    private const double F64P11 = 1.0 / 39916800.0;
    private const double F64P10 = 1.0 / 3628800.0;
    private const double F64P9 = 1.0 / 362880.0;
    private const double F64P8 = 1.0 / 40320.0;
    private const double F64P7 = 1.0 / 5040.0;
    private const double F64P6 = 1.0 / 720.0;
    private const double F64P5 = 1.0 / 120.0;
    private const double F64P4 = 1.0 / 24.0;
    private const double F64P3 = 1.0 / 6.0;
    private const double F64P2 = 0.5;

    /// <summary>e^x, float32 (the kernels' form).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float x)
    {
        if (x < F32Underflow)
            return 0f;
        if (x > 0f)
            x = 0f;
        int k = (int)(x * F32Log2E - 0.5f);
        float r = x - k * F32Ln2Hi - k * F32Ln2Lo;
        float p = F32P7;
        p = p * r + F32P6;
        p = p * r + F32P5;
        p = p * r + F32P4;
        p = p * r + F32P3;
        p = p * r + F32P2;
        p = p * r + 1f;
        p = p * r + 1f;
        // 2^k built from its exponent bits; k >= -126 here, a normal number.
        float scale = Interop.IntAsFloat((uint)((k + 127) << 23));
        return p * scale;
    }

    /// <summary>e^x, float64 (the kernels' form).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double x)
    {
        if (x < F64Underflow)
            return 0.0;
        if (x > 0.0)
            x = 0.0;
        long k = (long)(x * F64Log2E - 0.5);
        double r = x - k * F64Ln2Hi - k * F64Ln2Lo;
        double p = F64P13;
        p = p * r + F64P12;
        p = p * r + F64P11;
        p = p * r + F64P10;
        p = p * r + F64P9;
        p = p * r + F64P8;
        p = p * r + F64P7;
        p = p * r + F64P6;
        p = p * r + F64P5;
        p = p * r + F64P4;
        p = p * r + F64P3;
        p = p * r + F64P2;
        p = p * r + 1.0;
        p = p * r + 1.0;
        double scale = Interop.IntAsFloat((ulong)((k + 1023) << 52));
        return p * scale;
    }

    /// <summary>e^x of every lane.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Invoke<T>(Vector<T> x) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return InvokeSingle(x.As<T, float>()).As<float, T>();
        return InvokeDouble(x.As<T, double>()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> InvokeSingle(Vector<float> x)
    {
        var underflow = Vector.LessThan(x, new Vector<float>(F32Underflow));
        x = Vector.MinNative(Vector<float>.Zero, Vector.MaxNative(new Vector<float>(F32Underflow), x));
        var k = Vector.ConvertToInt32Native(x * new Vector<float>(F32Log2E) - new Vector<float>(0.5f));
        var kf = Vector.ConvertToSingle(k);
        var r = x - kf * new Vector<float>(F32Ln2Hi) - kf * new Vector<float>(F32Ln2Lo);
        var p = new Vector<float>(F32P7);
        p = p * r + new Vector<float>(F32P6);
        p = p * r + new Vector<float>(F32P5);
        p = p * r + new Vector<float>(F32P4);
        p = p * r + new Vector<float>(F32P3);
        p = p * r + new Vector<float>(F32P2);
        p = p * r + Vector<float>.One;
        p = p * r + Vector<float>.One;
        var scale = Vector.AsVectorSingle(Vector.ShiftLeft(k + new Vector<int>(127), 23));
        return Vector.ConditionalSelect(underflow, Vector<float>.Zero, p * scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> InvokeDouble(Vector<double> x)
    {
        var underflow = Vector.LessThan(x, new Vector<double>(F64Underflow));
        x = Vector.MinNative(Vector<double>.Zero, Vector.MaxNative(new Vector<double>(F64Underflow), x));
        var k = Vector.ConvertToInt64Native(x * new Vector<double>(F64Log2E) - new Vector<double>(0.5));
        var kd = Vector.ConvertToDouble(k);
        var r = x - kd * new Vector<double>(F64Ln2Hi) - kd * new Vector<double>(F64Ln2Lo);
        var p = new Vector<double>(F64P13);
        p = p * r + new Vector<double>(F64P12);
        p = p * r + new Vector<double>(F64P11);
        p = p * r + new Vector<double>(F64P10);
        p = p * r + new Vector<double>(F64P9);
        p = p * r + new Vector<double>(F64P8);
        p = p * r + new Vector<double>(F64P7);
        p = p * r + new Vector<double>(F64P6);
        p = p * r + new Vector<double>(F64P5);
        p = p * r + new Vector<double>(F64P4);
        p = p * r + new Vector<double>(F64P3);
        p = p * r + new Vector<double>(F64P2);
        p = p * r + Vector<double>.One;
        p = p * r + Vector<double>.One;
        var scale = Vector.AsVectorDouble(Vector.ShiftLeft(k + new Vector<long>(1023), 52));
        return Vector.ConditionalSelect(underflow, Vector<double>.Zero, p * scale);
    }

    /// <summary>e^x of 16 float32 lanes (for AVX-512 machines, where <see cref="Vector{T}"/> has 8), the same operations in the same order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> x)
    {
        var underflow = Vector512.LessThan(x, Vector512.Create(F32Underflow));
        x = Vector512.MinNative(Vector512<float>.Zero, Vector512.MaxNative(Vector512.Create(F32Underflow), x));
        var k = Vector512.ConvertToInt32Native(x * Vector512.Create(F32Log2E) - Vector512.Create(0.5f));
        var kf = Vector512.ConvertToSingle(k);
        var r = x - kf * Vector512.Create(F32Ln2Hi) - kf * Vector512.Create(F32Ln2Lo);
        var p = Vector512.Create(F32P7);
        p = p * r + Vector512.Create(F32P6);
        p = p * r + Vector512.Create(F32P5);
        p = p * r + Vector512.Create(F32P4);
        p = p * r + Vector512.Create(F32P3);
        p = p * r + Vector512.Create(F32P2);
        p = p * r + Vector512<float>.One;
        p = p * r + Vector512<float>.One;
        var scale = Vector512.ShiftLeft(k + Vector512.Create(127), 23).AsSingle();
        return Vector512.ConditionalSelect(underflow, Vector512<float>.Zero, p * scale);
    }

    /// <summary>
    /// e^x of two registers at once, each lane as <see cref="Invoke(Vector512{float})"/> computes it
    /// (bit for bit): the two chains of dependent operations interleaved, so the core overlaps them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Invoke(ref Vector512<float> x0, ref Vector512<float> x1)
    {
        var lo = Vector512.Create(F32Underflow);
        var u0 = Vector512.LessThan(x0, lo);
        var u1 = Vector512.LessThan(x1, lo);
        var y0 = Vector512.MinNative(Vector512<float>.Zero, Vector512.MaxNative(lo, x0));
        var y1 = Vector512.MinNative(Vector512<float>.Zero, Vector512.MaxNative(lo, x1));
        var k0 = Vector512.ConvertToInt32Native(y0 * Vector512.Create(F32Log2E) - Vector512.Create(0.5f));
        var k1 = Vector512.ConvertToInt32Native(y1 * Vector512.Create(F32Log2E) - Vector512.Create(0.5f));
        var f0 = Vector512.ConvertToSingle(k0);
        var f1 = Vector512.ConvertToSingle(k1);
        var r0 = y0 - f0 * Vector512.Create(F32Ln2Hi) - f0 * Vector512.Create(F32Ln2Lo);
        var r1 = y1 - f1 * Vector512.Create(F32Ln2Hi) - f1 * Vector512.Create(F32Ln2Lo);
        var p0 = Vector512.Create(F32P7);
        var p1 = p0;
        p0 = p0 * r0 + Vector512.Create(F32P6);
        p1 = p1 * r1 + Vector512.Create(F32P6);
        p0 = p0 * r0 + Vector512.Create(F32P5);
        p1 = p1 * r1 + Vector512.Create(F32P5);
        p0 = p0 * r0 + Vector512.Create(F32P4);
        p1 = p1 * r1 + Vector512.Create(F32P4);
        p0 = p0 * r0 + Vector512.Create(F32P3);
        p1 = p1 * r1 + Vector512.Create(F32P3);
        p0 = p0 * r0 + Vector512.Create(F32P2);
        p1 = p1 * r1 + Vector512.Create(F32P2);
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

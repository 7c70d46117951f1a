using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// One SIMD register type for element type T, as static members, so a kernel written once over
/// <typeparamref name="TV"/> is compiled by the JIT for <see cref="Vector512{T}"/>,
/// <see cref="Vector256{T}"/> or <see cref="Vector128{T}"/> with every call inlined.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
/// <typeparam name="TV">The register type.</typeparam>
internal interface ISimd<T, TV>
    where T : unmanaged
    where TV : struct
{
    /// <summary>Lanes per register.</summary>
    static abstract int Count { get; }

    /// <summary>Loads Count elements from <paramref name="source"/> (unaligned).</summary>
    static abstract TV Load(ref T source);

    /// <summary>Stores Count elements to <paramref name="destination"/> (unaligned).</summary>
    static abstract void Store(TV value, ref T destination);

    /// <summary>Every lane set to <paramref name="value"/>.</summary>
    static abstract TV Broadcast(T value);

    /// <summary>a·b + c, fused (one rounding).</summary>
    static abstract TV MulAdd(TV a, TV b, TV c);

    /// <summary>a·b.</summary>
    static abstract TV Mul(TV a, TV b);

    /// <summary>a + b.</summary>
    static abstract TV Add(TV a, TV b);

    /// <summary>The sum of the lanes.</summary>
    static abstract T Sum(TV a);
}

/// <summary>AVX-512 registers: 16 floats or 8 doubles.</summary>
/// <typeparam name="T">float or double.</typeparam>
internal readonly struct Simd512<T> : ISimd<T, Vector512<T>> where T : unmanaged
{
    public static int Count => Vector512<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Load(ref T source) => Vector512.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<T> value, ref T destination) => value.StoreUnsafe(ref destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Broadcast(T value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> MulAdd(Vector512<T> a, Vector512<T> b, Vector512<T> c)
    {
        if (typeof(T) == typeof(float))
            return Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        return Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Mul(Vector512<T> a, Vector512<T> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Add(Vector512<T> a, Vector512<T> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector512<T> a) => Vector512.Sum(a);
}

/// <summary>AVX2 registers: 8 floats or 4 doubles.</summary>
/// <typeparam name="T">float or double.</typeparam>
internal readonly struct Simd256<T> : ISimd<T, Vector256<T>> where T : unmanaged
{
    public static int Count => Vector256<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Load(ref T source) => Vector256.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<T> value, ref T destination) => value.StoreUnsafe(ref destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Broadcast(T value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> MulAdd(Vector256<T> a, Vector256<T> b, Vector256<T> c)
    {
        if (typeof(T) == typeof(float))
            return Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        return Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Mul(Vector256<T> a, Vector256<T> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Add(Vector256<T> a, Vector256<T> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector256<T> a) => Vector256.Sum(a);
}

/// <summary>
/// 128-bit registers (SSE, NEON): 4 floats or 2 doubles. Where no vector hardware exists the
/// runtime implements them in scalar code, so this is also the scalar fallback.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
internal readonly struct Simd128<T> : ISimd<T, Vector128<T>> where T : unmanaged
{
    public static int Count => Vector128<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Load(ref T source) => Vector128.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<T> value, ref T destination) => value.StoreUnsafe(ref destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Broadcast(T value) => Vector128.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> MulAdd(Vector128<T> a, Vector128<T> b, Vector128<T> c)
    {
        if (typeof(T) == typeof(float))
            return Vector128.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        return Vector128.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Mul(Vector128<T> a, Vector128<T> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Add(Vector128<T> a, Vector128<T> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector128<T> a) => Vector128.Sum(a);
}

/// <summary>Scalar arithmetic on T (float or double) for edges and tails; the type tests fold away in the JIT.</summary>
/// <typeparam name="T">float or double.</typeparam>
internal static class Scalar<T> where T : unmanaged
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Add(T a, T b) => typeof(T) == typeof(float)
        ? (T)(object)((float)(object)a + (float)(object)b)
        : (T)(object)((double)(object)a + (double)(object)b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Mul(T a, T b) => typeof(T) == typeof(float)
        ? (T)(object)((float)(object)a * (float)(object)b)
        : (T)(object)((double)(object)a * (double)(object)b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sub(T a, T b) => typeof(T) == typeof(float)
        ? (T)(object)((float)(object)a - (float)(object)b)
        : (T)(object)((double)(object)a - (double)(object)b);

    /// <summary>a·b + c, fused.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T MulAdd(T a, T b, T c) => typeof(T) == typeof(float)
        ? (T)(object)MathF.FusedMultiplyAdd((float)(object)a, (float)(object)b, (float)(object)c)
        : (T)(object)Math.FusedMultiplyAdd((double)(object)a, (double)(object)b, (double)(object)c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ToDouble(T a) => typeof(T) == typeof(float) ? (float)(object)a : (double)(object)a;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T FromDouble(double a) => typeof(T) == typeof(float) ? (T)(object)(float)a : (T)(object)a;
}

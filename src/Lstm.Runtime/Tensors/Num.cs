namespace Lstm.Runtime.Tensors;

/// <summary>Host-side conversions between float64 and the element type T (float or double).</summary>
/// <typeparam name="T">float or double.</typeparam>
internal static class Num<T> where T : unmanaged
{
    public static T From(double v)
    {
        if (typeof(T) == typeof(float))
            return (T)(object)(float)v;
        if (typeof(T) == typeof(double))
            return (T)(object)v;
        throw new NotSupportedException($"element type {typeof(T).Name}: only float and double are supported");
    }

    public static double ToDouble(T v) => v switch
    {
        float f => f,
        double d => d,
        _ => throw new NotSupportedException($"element type {typeof(T).Name}: only float and double are supported"),
    };

    public static T Zero => default;

    public static T One => From(1.0);

    public static string DTypeName => typeof(T) == typeof(double) ? "float64" : "float32";
}

using Lstm.Runtime.Backends;
using Lstm.Tests.Shared;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Lstm.Kernels.Tests;

/// <summary>Moves test data between the host (float64) and a device of element type T.</summary>
internal static class DeviceData
{
    public static DeviceBuffer<T> Upload<T>(IDeviceOps<T> ops, double[] values) where T : unmanaged
    {
        var buffer = ops.Allocate(values.Length);
        ops.Upload(Convert<T>(values), buffer.All);
        return buffer;
    }

    public static double[] Download<T>(IDeviceOps<T> ops, DeviceBuffer<T> buffer) where T : unmanaged
    {
        var host = new T[buffer.Length];
        ops.Download(buffer.All, host);
        return host.Select(v => v switch { float f => f, double d => d, _ => double.NaN }).ToArray();
    }

    public static T[] Convert<T>(double[] values) where T : unmanaged =>
        typeof(T) == typeof(float)
            ? (T[])(object)values.Select(v => (float)v).ToArray()
            : (T[])(object)values.ToArray();

    public static T From<T>(double v) where T : unmanaged =>
        typeof(T) == typeof(float) ? (T)(object)(float)v : (T)(object)v;

    /// <summary>Inputs as a float32 device would see them (rounded), or unchanged for float64.</summary>
    public static double[] AsSeen<T>(double[] values) where T : unmanaged =>
        typeof(T) == typeof(float) ? Numerics.RoundToFloat(values) : values;

    /// <summary>The tolerance for a float32 or float64 result of magnitude about one.</summary>
    public static double Tolerance<T>(double f32, double f64) where T : unmanaged => typeof(T) == typeof(float) ? f32 : f64;
}

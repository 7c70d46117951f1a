using System.Globalization;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Devices;

namespace Lstm.Runtime.Tensors;

/// <summary>
/// A dense row-major tensor in a device's memory. It owns its buffer; dispose it to free it.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class Tensor<T> : IDisposable where T : unmanaged
{
    private readonly int[] _shape;

    private Tensor(ComputeDevice device, DeviceBuffer<T> buffer, int[] shape)
    {
        Device = device;
        Buffer = buffer;
        _shape = shape;
    }

    /// <summary>The device holding the data.</summary>
    public ComputeDevice Device { get; }

    /// <summary>The device memory.</summary>
    public DeviceBuffer<T> Buffer { get; }

    /// <summary>The whole tensor as a slice for device operations.</summary>
    public BufferSlice<T> Data => Buffer.All;

    /// <summary>The dimensions, outermost first.</summary>
    public IReadOnlyList<int> Shape => _shape;

    /// <summary>Number of elements.</summary>
    public long Length => Buffer.Length;

    /// <summary>The device's operations for T.</summary>
    public IDeviceOps<T> Ops => Device.Ops<T>();

    /// <summary>The shape as text, e.g. <c>[5, 50, 10]</c>.</summary>
    public string ShapeString => FormatShape(_shape);

    /// <summary>A zero-filled tensor.</summary>
    /// <param name="device">Where it lives.</param>
    /// <param name="shape">Its dimensions.</param>
    public static Tensor<T> Zeros(ComputeDevice device, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(device);
        long n = Elements(shape);
        return new Tensor<T>(device, device.Ops<T>().Allocate(n), (int[])shape.Clone());
    }

    /// <summary>A tensor whose values are unspecified, for one the caller fills in full at once (<see cref="IMemoryOps{T}.AllocateUninitialized"/>).</summary>
    /// <param name="device">Where it lives.</param>
    /// <param name="shape">Its dimensions.</param>
    internal static Tensor<T> Uninitialized(ComputeDevice device, params int[] shape)
    {
        long n = Elements(shape);
        return new Tensor<T>(device, device.Ops<T>().AllocateUninitialized(n), (int[])shape.Clone());
    }

    /// <summary>A tensor holding a copy of host data.</summary>
    /// <param name="device">Where it lives.</param>
    /// <param name="data">Row-major values; their count must match the shape.</param>
    /// <param name="shape">Its dimensions.</param>
    public static Tensor<T> FromArray(ComputeDevice device, ReadOnlySpan<T> data, params int[] shape)
    {
        long n = Elements(shape);
        if (data.Length != n)
            throw new LstmException($"{data.Length} values do not fill a tensor of shape {FormatShape(shape)} ({n} elements)");
        var t = Zeros(device, shape);
        t.Ops.Upload(data, t.Data);
        return t;
    }

    /// <summary>Copies the data to a new host array.</summary>
    public T[] ToArray()
    {
        var result = new T[Length];
        Ops.Download(Data, result);
        return result;
    }

    /// <summary>Overwrites the data with host values of the same count.</summary>
    /// <param name="data">Row-major values.</param>
    public void CopyFrom(ReadOnlySpan<T> data)
    {
        if (data.Length != Length)
            throw new LstmException($"{data.Length} values do not fill a tensor of shape {ShapeString}");
        Ops.Upload(data, Data);
    }

    /// <summary>Sets every element to zero.</summary>
    public void Clear() => Ops.Fill(Data, default);

    /// <summary>True when the shape equals <paramref name="shape"/>.</summary>
    /// <param name="shape">Dimensions to compare with.</param>
    public bool HasShape(params int[] shape) => _shape.AsSpan().SequenceEqual(shape);

    /// <summary>Formats a shape as <c>[a, b, c]</c>.</summary>
    /// <param name="shape">Dimensions.</param>
    public static string FormatShape(IEnumerable<int> shape) =>
        "[" + string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]";

    private static long Elements(int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0)
                throw new LstmException($"negative dimension in shape {FormatShape(shape)}");
            n *= d;
        }

        return n;
    }

    /// <inheritdoc/>
    public void Dispose() => Buffer.Dispose();

    /// <inheritdoc/>
    public override string ToString() => $"Tensor<{typeof(T).Name}>{ShapeString} on {Device.Name}";
}

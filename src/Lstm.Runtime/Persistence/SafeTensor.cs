using System.Buffers.Binary;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Lstm.Runtime.Persistence;

/// <summary>The element types of the safetensors format (the header's <c>dtype</c> strings).</summary>
public enum SafeTensorDType
{
    /// <summary>IEEE 754 binary64 (<c>"F64"</c>), 8 bytes.</summary>
    F64,

    /// <summary>IEEE 754 binary32 (<c>"F32"</c>), 4 bytes.</summary>
    F32,

    /// <summary>IEEE 754 binary16 (<c>"F16"</c>), 2 bytes.</summary>
    F16,

    /// <summary>bfloat16 (<c>"BF16"</c>): the upper 16 bits of a binary32, 2 bytes.</summary>
    BF16,

    /// <summary>Signed 64-bit integer (<c>"I64"</c>).</summary>
    I64,

    /// <summary>Signed 32-bit integer (<c>"I32"</c>).</summary>
    I32,

    /// <summary>Signed 16-bit integer (<c>"I16"</c>).</summary>
    I16,

    /// <summary>Signed 8-bit integer (<c>"I8"</c>).</summary>
    I8,

    /// <summary>Unsigned 8-bit integer (<c>"U8"</c>).</summary>
    U8,

    /// <summary>Boolean, one byte each, 0 or 1 (<c>"BOOL"</c>).</summary>
    Bool,
}

/// <summary>
/// One named tensor of a safetensors file: element type, shape (row-major, outermost first, as in
/// PyTorch) and the raw little-endian bytes. Immutable.
/// </summary>
public sealed class SafeTensor
{
    private readonly int[] _shape;
    private readonly ReadOnlyMemory<byte> _data;
    private readonly Lazy<ReadOnlyMemory<byte>>? _load;

    /// <summary>Creates a tensor from its raw little-endian bytes.</summary>
    /// <param name="name">The tensor's name, e.g. <c>weight_ih_l0</c>.</param>
    /// <param name="dtype">The element type of <paramref name="data"/>.</param>
    /// <param name="shape">The dimensions, outermost first; empty for a scalar. Each is zero or more.</param>
    /// <param name="data">
    /// product(<paramref name="shape"/>) × element size bytes, little-endian. The array is kept as is,
    /// not copied: do not change it afterwards.
    /// </param>
    /// <exception cref="LstmException">A dimension is negative, or the data's length does not match the shape.</exception>
    public SafeTensor(string name, SafeTensorDType dtype, int[] shape, byte[] data)
        : this(name, dtype, shape, (ReadOnlyMemory<byte>)(data ?? throw new ArgumentNullException(nameof(data))))
    {
    }

    internal SafeTensor(string name, SafeTensorDType dtype, int[] shape, ReadOnlyMemory<byte> data)
        : this(name, dtype, shape)
    {
        if (data.Length != ByteCount)
        {
            throw new LstmException(
                $"tensor {SafeTensorsFile.Quote(name)}: {data.Length} bytes of data, but shape {ShapeString} of {SafeTensorsFile.DTypeName(dtype)} needs {ByteCount}");
        }

        _data = data;
    }

    /// <summary>A tensor whose bytes are read when first asked for (a mapped file's tensor); <paramref name="load"/> returns exactly <see cref="ByteCount"/> bytes.</summary>
    internal SafeTensor(string name, SafeTensorDType dtype, int[] shape, Func<ReadOnlyMemory<byte>> load)
        : this(name, dtype, shape)
    {
        _load = new Lazy<ReadOnlyMemory<byte>>(load, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    private SafeTensor(string name, SafeTensorDType dtype, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        if (!Enum.IsDefined(dtype))
            throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a safetensors dtype");
        Name = name;
        DType = dtype;
        _shape = (int[])shape.Clone();
        Shape = Array.AsReadOnly(_shape);
        string what = $"tensor {SafeTensorsFile.Quote(name)}";
        ElementCount = CountElements(_shape, what);
        ByteCount = CountBytes(_shape, dtype, what);
    }

    /// <summary>The tensor's name, e.g. <c>weight_ih_l0</c>.</summary>
    public string Name { get; }

    /// <summary>The element type of <see cref="Data"/>.</summary>
    public SafeTensorDType DType { get; }

    /// <summary>The dimensions, outermost first (row-major); empty for a scalar.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>The number of elements: the product of <see cref="Shape"/> (1 for a scalar).</summary>
    public long ElementCount { get; }

    /// <summary>The number of bytes of <see cref="Data"/>: <see cref="ElementCount"/> × the element size.</summary>
    public long ByteCount { get; }

    /// <summary>
    /// The raw little-endian bytes, <see cref="ByteCount"/> long. A tensor of a file read with
    /// <c>SafeTensorsFile.Read</c> copies its bytes out of the file the first time they are asked for.
    /// </summary>
    /// <exception cref="LstmException">The tensor's file can no longer be read, has changed since its header was read, or the tensor is too large to hold in memory.</exception>
    public ReadOnlyMemory<byte> Data => _load is null ? _data : _load.Value;

    /// <summary>The shape as text, e.g. <c>[5, 50, 10]</c>; <c>[]</c> for a scalar.</summary>
    public string ShapeString => FormatShape(_shape);

    /// <summary>Creates an F32 tensor from values in row-major order.</summary>
    /// <param name="name">The tensor's name.</param>
    /// <param name="shape">The dimensions, outermost first; their product must equal the number of values.</param>
    /// <param name="values">The values, row-major.</param>
    /// <exception cref="LstmException">The number of values does not match the shape.</exception>
    public static SafeTensor FromFloat32(string name, int[] shape, ReadOnlySpan<float> values)
    {
        CheckValueCount(name, shape, values.Length);
        var data = new byte[values.Length * sizeof(float)];
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values).CopyTo(data);
        }
        else
        {
            for (int i = 0; i < values.Length; i++)
                BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(i * sizeof(float)), values[i]);
        }

        return new SafeTensor(name, SafeTensorDType.F32, shape, data);
    }

    /// <summary>Creates an F64 tensor from values in row-major order.</summary>
    /// <param name="name">The tensor's name.</param>
    /// <param name="shape">The dimensions, outermost first; their product must equal the number of values.</param>
    /// <param name="values">The values, row-major.</param>
    /// <exception cref="LstmException">The number of values does not match the shape.</exception>
    public static SafeTensor FromFloat64(string name, int[] shape, ReadOnlySpan<double> values)
    {
        CheckValueCount(name, shape, values.Length);
        var data = new byte[values.Length * sizeof(double)];
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values).CopyTo(data);
        }
        else
        {
            for (int i = 0; i < values.Length; i++)
                BinaryPrimitives.WriteDoubleLittleEndian(data.AsSpan(i * sizeof(double)), values[i]);
        }

        return new SafeTensor(name, SafeTensorDType.F64, shape, data);
    }

    /// <summary>
    /// The values as float32, row-major: F32 as is, F64 rounded, F16 and BF16 widened, integers
    /// converted, BOOL as 0 or 1.
    /// </summary>
    /// <returns>A new array of <see cref="ElementCount"/> values.</returns>
    public float[] ToFloat32()
    {
        var result = new float[ArrayLength()];
        var src = Data.Span;
        switch (DType)
        {
            case SafeTensorDType.F32 when BitConverter.IsLittleEndian:
                src.CopyTo(MemoryMarshal.AsBytes(result.AsSpan()));
                break;
            case SafeTensorDType.F32:
                for (int i = 0; i < result.Length; i++)
                    result[i] = BinaryPrimitives.ReadSingleLittleEndian(src[(i * 4)..]);
                break;
            case SafeTensorDType.F64:
                for (int i = 0; i < result.Length; i++)
                    result[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(src[(i * 8)..]);
                break;
            default:
                for (int i = 0; i < result.Length; i++)
                    result[i] = (float)ReadAsDouble(src, i);
                break;
        }

        return result;
    }

    /// <summary>
    /// The values as float64, row-major: F64 as is, F32/F16/BF16 widened exactly, integers
    /// converted (I64 rounded beyond 2^53), BOOL as 0 or 1.
    /// </summary>
    /// <returns>A new array of <see cref="ElementCount"/> values.</returns>
    public double[] ToFloat64()
    {
        var result = new double[ArrayLength()];
        var src = Data.Span;
        if (DType == SafeTensorDType.F64 && BitConverter.IsLittleEndian)
        {
            src.CopyTo(MemoryMarshal.AsBytes(result.AsSpan()));
            return result;
        }

        for (int i = 0; i < result.Length; i++)
            result[i] = ReadAsDouble(src, i);
        return result;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} {SafeTensorsFile.DTypeName(DType)} {ShapeString}";

    internal static string FormatShape(IReadOnlyList<int> shape) =>
        "[" + string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]";

    internal static long CountElements(int[] shape, string what)
    {
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0)
                throw new LstmException($"{what}: shape {FormatShape(shape)} has a negative dimension");
            try
            {
                count = checked(count * d);
            }
            catch (OverflowException)
            {
                throw new LstmException($"{what}: shape {FormatShape(shape)} has too many elements");
            }
        }

        return count;
    }

    /// <summary>
    /// product(shape) × element size in bytes, computed in checked 64-bit arithmetic so that no
    /// shape can wrap around to a small byte count.
    /// </summary>
    internal static long CountBytes(int[] shape, SafeTensorDType dtype, string what)
    {
        long count = CountElements(shape, what);
        try
        {
            return checked(count * SafeTensorsFile.ElementSize(dtype));
        }
        catch (OverflowException)
        {
            throw new LstmException($"{what}: shape {FormatShape(shape)} of {SafeTensorsFile.DTypeName(dtype)} needs more than {long.MaxValue} bytes");
        }
    }

    private int ArrayLength()
    {
        if (ElementCount > Array.MaxLength)
            throw new LstmException($"tensor {SafeTensorsFile.Quote(Name)}: shape {ShapeString} has {ElementCount} elements, more than an array holds ({Array.MaxLength})");
        return (int)ElementCount;
    }

    private double ReadAsDouble(ReadOnlySpan<byte> src, int i) => DType switch
    {
        SafeTensorDType.F64 => BinaryPrimitives.ReadDoubleLittleEndian(src[(i * 8)..]),
        SafeTensorDType.F32 => BinaryPrimitives.ReadSingleLittleEndian(src[(i * 4)..]),
        SafeTensorDType.F16 => (double)BinaryPrimitives.ReadHalfLittleEndian(src[(i * 2)..]),
        SafeTensorDType.BF16 => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(src[(i * 2)..]) << 16),
        SafeTensorDType.I64 => BinaryPrimitives.ReadInt64LittleEndian(src[(i * 8)..]),
        SafeTensorDType.I32 => BinaryPrimitives.ReadInt32LittleEndian(src[(i * 4)..]),
        SafeTensorDType.I16 => BinaryPrimitives.ReadInt16LittleEndian(src[(i * 2)..]),
        SafeTensorDType.I8 => (sbyte)src[i],
        SafeTensorDType.U8 => src[i],
        SafeTensorDType.Bool => src[i] != 0 ? 1.0 : 0.0,
        _ => throw new InvalidOperationException($"dtype {DType}"),
    };

    private static void CheckValueCount(string name, int[] shape, int count)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long expected = CountElements(shape, $"tensor {SafeTensorsFile.Quote(name)}");
        if (expected != count)
            throw new LstmException($"tensor {SafeTensorsFile.Quote(name)}: {count} values, but shape {FormatShape(shape)} has {expected} elements");
    }
}

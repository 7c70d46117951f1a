using System.Buffers.Binary;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
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
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        if (!Enum.IsDefined(dtype))
            throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a safetensors dtype");
        Name = name;
        DType = dtype;
        _shape = (int[])shape.Clone();
        Shape = Array.AsReadOnly(_shape);
        ElementCount = CountElements(_shape, $"tensor '{name}'");
        long expected = ElementCount * SafeTensorsFile.ElementSize(dtype);
        if (data.Length != expected)
        {
            throw new LstmException(
                $"tensor '{name}': {data.Length} bytes of data, but shape {ShapeString} of {SafeTensorsFile.DTypeName(dtype)} needs {expected}");
        }

        Data = data;
    }

    /// <summary>The tensor's name, e.g. <c>weight_ih_l0</c>.</summary>
    public string Name { get; }

    /// <summary>The element type of <see cref="Data"/>.</summary>
    public SafeTensorDType DType { get; }

    /// <summary>The dimensions, outermost first (row-major); empty for a scalar.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>The number of elements: the product of <see cref="Shape"/> (1 for a scalar).</summary>
    public long ElementCount { get; }

    /// <summary>The raw little-endian bytes, <see cref="ElementCount"/> × element size long.</summary>
    public ReadOnlyMemory<byte> Data { get; }

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
        var src = Data.Span;
        var result = new float[checked((int)ElementCount)];
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
        var src = Data.Span;
        var result = new double[checked((int)ElementCount)];
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
        long expected = CountElements(shape, $"tensor '{name}'");
        if (expected != count)
            throw new LstmException($"tensor '{name}': {count} values, but shape {FormatShape(shape)} has {expected} elements");
    }
}

/// <summary>
/// A safetensors file (https://github.com/huggingface/safetensors): an 8-byte little-endian
/// header length N, N bytes of UTF-8 JSON mapping each tensor's name to its dtype, shape and
/// <c>data_offsets</c> (plus optional string <c>__metadata__</c>), then the tensors' raw
/// little-endian bytes. Reads PyTorch's <c>safetensors.torch.save_file</c> output and writes
/// files it loads. Immutable.
/// </summary>
public sealed class SafeTensorsFile
{
    private const string MetadataKey = "__metadata__";
    private const int MaxNamesInMessage = 30;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly Dictionary<string, SafeTensor> _byName;
    private readonly string _source;

    /// <summary>Creates a file's contents from tensors, kept in the given order, and string metadata.</summary>
    /// <param name="tensors">The tensors; names must be unique and not <c>__metadata__</c>.</param>
    /// <param name="metadata">The header's <c>__metadata__</c>; null for none.</param>
    /// <exception cref="LstmException">Two tensors share a name, or a name is empty or reserved.</exception>
    public SafeTensorsFile(IEnumerable<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
        : this(tensors, metadata, path: null, source: "safetensors")
    {
    }

    private SafeTensorsFile(IEnumerable<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata, string? path, string source)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        Path = path;
        _source = source;
        var list = new List<SafeTensor>();
        _byName = new Dictionary<string, SafeTensor>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            ArgumentNullException.ThrowIfNull(t, nameof(tensors));
            if (t.Name.Length == 0)
                throw new LstmException($"{source}: a tensor has an empty name");
            if (t.Name == MetadataKey)
                throw new LstmException($"{source}: '{MetadataKey}' is reserved and cannot name a tensor");
            if (!_byName.TryAdd(t.Name, t))
                throw new LstmException($"{source}: tensor '{t.Name}' appears twice");
            list.Add(t);
        }

        Tensors = list.AsReadOnly();
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        if (metadata is not null)
        {
            foreach (var (key, value) in metadata)
                meta[key] = value ?? throw new ArgumentException($"metadata '{key}' is null", nameof(metadata));
        }

        Metadata = new ReadOnlyDictionary<string, string>(meta);
    }

    /// <summary>The header's <c>__metadata__</c>: free-form string pairs (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensors in file order (the order of their data).</summary>
    public IReadOnlyList<SafeTensor> Tensors { get; }

    /// <summary>The file this was read from, or null when it was built in memory or parsed from bytes.</summary>
    public string? Path { get; }

    /// <summary>Whether a tensor of that name is present.</summary>
    /// <param name="name">The tensor's name.</param>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The tensor of that name, or null when absent.</summary>
    /// <param name="name">The tensor's name.</param>
    public SafeTensor? TryGet(string name) => _byName.GetValueOrDefault(name);

    /// <summary>The tensor of that name.</summary>
    /// <param name="name">The tensor's name.</param>
    /// <exception cref="LstmException">It is absent; the message names the file and lists the names it has.</exception>
    public SafeTensor Get(string name)
    {
        if (_byName.TryGetValue(name, out var t))
            return t;
        string has = Tensors.Count == 0
            ? "the file has no tensors"
            : "the file has: " + string.Join(", ", Tensors.Take(MaxNamesInMessage).Select(x => x.Name))
              + (Tensors.Count > MaxNamesInMessage ? $", ... ({Tensors.Count - MaxNamesInMessage} more)" : string.Empty);
        throw new LstmException($"{_source}: tensor '{name}' is missing ({has})");
    }

    /// <summary>The tensor of that name, checked to have exactly the expected shape.</summary>
    /// <param name="name">The tensor's name.</param>
    /// <param name="expected">The dimensions it must have, outermost first.</param>
    /// <exception cref="LstmException">It is absent, or its shape differs; the message names the file, the tensor, and both shapes.</exception>
    public SafeTensor GetWithShape(string name, params int[] expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        var t = Get(name);
        if (!t.Shape.SequenceEqual(expected))
        {
            throw new LstmException(
                $"{_source}: tensor '{name}' has shape {t.ShapeString}, expected {SafeTensor.FormatShape(expected)}");
        }

        return t;
    }

    /// <summary>Reads a safetensors file, reading it once; the tensors share the file's buffer.</summary>
    /// <param name="path">The file.</param>
    /// <exception cref="LstmException">It does not exist, cannot be read, or is not a valid safetensors file; the message names the path and the problem.</exception>
    public static SafeTensorsFile Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
            throw new LstmException($"{path}: is a directory, not a safetensors file");
        if (!File.Exists(path))
            throw new LstmException($"{path}: no such file");
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or System.Security.SecurityException)
        {
            throw new LstmException($"{path}: cannot read: {e.Message}", e);
        }

        return Parse(bytes, bytes.Length, path, path);
    }

    /// <summary>Parses the bytes of a safetensors file (the data is copied once).</summary>
    /// <param name="bytes">The whole file.</param>
    /// <param name="sourceName">What to call it in error messages (e.g. a path); null for "safetensors data".</param>
    /// <exception cref="LstmException">The bytes are not a valid safetensors file; the message names the source and the problem.</exception>
    public static SafeTensorsFile Parse(ReadOnlySpan<byte> bytes, string? sourceName = null)
    {
        string source = sourceName ?? "safetensors data";
        long headerLength = ReadHeaderLength(bytes, source);
        int dataStart = 8 + (int)headerLength;
        var data = bytes[dataStart..].ToArray();
        return Parse(bytes[8..dataStart], data, source, path: null);
    }

    /// <summary>Writes the file atomically: to a temporary file in the same directory, flushed, then renamed over <paramref name="path"/>.</summary>
    /// <param name="path">The file to write; replaced whole if it exists.</param>
    /// <exception cref="LstmException">It cannot be written; no temporary or partial file is left behind.</exception>
    public void Write(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0)
            throw new LstmException("cannot write a safetensors file to an empty path");
        string full;
        try
        {
            full = System.IO.Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new LstmException($"{path}: not a valid path: {e.Message}", e);
        }

        string? directory = System.IO.Path.GetDirectoryName(full);
        if (directory is not null && !Directory.Exists(directory))
            throw new LstmException($"{path}: cannot write: the directory {directory} does not exist");
        if (Directory.Exists(full))
            throw new LstmException($"{path}: cannot write: it is a directory");

        string temp = full + ".tmp-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                WriteTo(stream);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e)
        {
            try
            {
                File.Delete(temp);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                // Nothing more can be done; report the original failure.
            }

            if (e is IOException or UnauthorizedAccessException or NotSupportedException or System.Security.SecurityException)
                throw new LstmException($"{path}: cannot write: {e.Message}", e);
            throw;
        }
    }

    /// <summary>The file's bytes: header length, JSON header padded with spaces to a multiple of 8 bytes, then the tensors' data in order.</summary>
    /// <returns>A new array holding the whole file.</returns>
    public byte[] ToBytes()
    {
        byte[] header = BuildHeader();
        long total = 8 + header.LongLength + Tensors.Sum(t => (long)t.Data.Length);
        using var stream = new MemoryStream(checked((int)total));
        WriteTo(stream, header);
        return stream.GetBuffer().Length == total ? stream.GetBuffer() : stream.ToArray();
    }

    internal static int ElementSize(SafeTensorDType dtype) => dtype switch
    {
        SafeTensorDType.F64 or SafeTensorDType.I64 => 8,
        SafeTensorDType.F32 or SafeTensorDType.I32 => 4,
        SafeTensorDType.F16 or SafeTensorDType.BF16 or SafeTensorDType.I16 => 2,
        SafeTensorDType.I8 or SafeTensorDType.U8 or SafeTensorDType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a safetensors dtype"),
    };

    internal static string DTypeName(SafeTensorDType dtype) => dtype switch
    {
        SafeTensorDType.Bool => "BOOL",
        _ => dtype.ToString(),
    };

    private static SafeTensorDType? ParseDType(string name) => name switch
    {
        "F64" => SafeTensorDType.F64,
        "F32" => SafeTensorDType.F32,
        "F16" => SafeTensorDType.F16,
        "BF16" => SafeTensorDType.BF16,
        "I64" => SafeTensorDType.I64,
        "I32" => SafeTensorDType.I32,
        "I16" => SafeTensorDType.I16,
        "I8" => SafeTensorDType.I8,
        "U8" => SafeTensorDType.U8,
        "BOOL" => SafeTensorDType.Bool,
        _ => null,
    };

    private static SafeTensorsFile Parse(byte[] bytes, int length, string source, string path)
    {
        long headerLength = ReadHeaderLength(bytes.AsSpan(0, length), source);
        int dataStart = 8 + (int)headerLength;
        return Parse(bytes.AsSpan(8, (int)headerLength), bytes.AsMemory(dataStart, length - dataStart), source, path);
    }

    private static long ReadHeaderLength(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < 8)
        {
            throw new LstmException(
                $"{source}: not a safetensors file: {bytes.Length} bytes, shorter than the 8-byte header length");
        }

        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (n > (ulong)(bytes.Length - 8))
        {
            throw new LstmException(
                $"{source}: not a safetensors file: the header length {n} is larger than the {bytes.Length - 8} bytes after it (truncated file?)");
        }

        if (n < 2)
            throw new LstmException($"{source}: not a safetensors file: the header length is {n}, too short for a JSON object");
        return (long)n;
    }

    private static SafeTensorsFile Parse(ReadOnlySpan<byte> header, ReadOnlyMemory<byte> data, string source, string? path)
    {
        var entries = new List<(string Name, SafeTensorDType DType, int[] Shape, long Begin, long End, int Order)>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        string json;
        try
        {
            json = StrictUtf8.GetString(header);
        }
        catch (DecoderFallbackException e)
        {
            throw new LstmException($"{source}: the header is not valid UTF-8: {e.Message}", e);
        }

        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new LstmException($"{source}: the header is JSON but not an object");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == MetadataKey)
                {
                    if (sawMetadata)
                        throw new LstmException($"{source}: '{MetadataKey}' appears twice in the header");
                    sawMetadata = true;
                    ReadMetadata(prop.Value, metadata, source);
                    continue;
                }

                if (!seen.Add(prop.Name))
                    throw new LstmException($"{source}: tensor '{prop.Name}' appears twice in the header");
                var (dtype, shape, begin, end) = ReadEntry(prop.Name, prop.Value, source);
                entries.Add((prop.Name, dtype, shape, begin, end, entries.Count));
            }
        }
        catch (JsonException e)
        {
            throw new LstmException($"{source}: the header is not valid JSON: {e.Message}", e);
        }

        // File order is data order; the data must be covered exactly, with no holes or overlaps.
        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End != b.End ? a.End.CompareTo(b.End) : a.Order.CompareTo(b.Order));
        long cursor = 0;
        var tensors = new List<SafeTensor>(entries.Count);
        foreach (var e in entries)
        {
            long expected = SafeTensor.CountElements(e.Shape, $"{source}: tensor '{e.Name}'") * ElementSize(e.DType);
            string offsets = $"data_offsets [{e.Begin}, {e.End}]";
            if (e.End > data.Length)
            {
                throw new LstmException(
                    $"{source}: tensor '{e.Name}': {offsets} run past the end of the data ({data.Length} bytes)");
            }

            if (e.End - e.Begin != expected)
            {
                throw new LstmException(
                    $"{source}: tensor '{e.Name}': {offsets} hold {e.End - e.Begin} bytes, but shape {SafeTensor.FormatShape(e.Shape)} of {DTypeName(e.DType)} needs {expected}");
            }

            if (e.Begin != cursor)
            {
                throw new LstmException(
                    $"{source}: tensor '{e.Name}': {offsets} {(e.Begin < cursor ? "overlap another tensor" : $"leave a gap after byte {cursor}")} of the data");
            }

            cursor = e.End;
            tensors.Add(new SafeTensor(e.Name, e.DType, e.Shape, data.Slice((int)e.Begin, (int)(e.End - e.Begin))));
        }

        if (cursor != data.Length)
        {
            throw new LstmException(
                $"{source}: the tensors cover {cursor} bytes of data, but the file has {data.Length} after the header");
        }

        return new SafeTensorsFile(tensors, metadata, path, source);
    }

    private static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, string source)
    {
        if (value.ValueKind == JsonValueKind.Null)
            return;
        if (value.ValueKind != JsonValueKind.Object)
            throw new LstmException($"{source}: '{MetadataKey}' must be an object of strings, not {Describe(value)}");
        foreach (var m in value.EnumerateObject())
        {
            if (m.Value.ValueKind != JsonValueKind.String)
                throw new LstmException($"{source}: metadata '{m.Name}' must be a string, not {Describe(m.Value)}");
            if (!metadata.TryAdd(m.Name, m.Value.GetString()!))
                throw new LstmException($"{source}: metadata '{m.Name}' appears twice in the header");
        }
    }

    private static (SafeTensorDType DType, int[] Shape, long Begin, long End) ReadEntry(string name, JsonElement value, string source)
    {
        string what = $"{source}: tensor '{name}'";
        if (value.ValueKind != JsonValueKind.Object)
            throw new LstmException($"{what}: the header entry must be an object, not {Describe(value)}");
        JsonElement? dtypeValue = null, shapeValue = null, offsetsValue = null;
        foreach (var field in value.EnumerateObject())
        {
            ref JsonElement? slot = ref dtypeValue;
            switch (field.Name)
            {
                case "dtype":
                    break;
                case "shape":
                    slot = ref shapeValue;
                    break;
                case "data_offsets":
                    slot = ref offsetsValue;
                    break;
                default:
                    continue;
            }

            if (slot is not null)
                throw new LstmException($"{what}: '{field.Name}' appears twice");
            slot = field.Value;
        }

        if (dtypeValue is not { ValueKind: JsonValueKind.String } dt)
            throw new LstmException($"{what}: 'dtype' is missing or not a string");
        string dtypeName = dt.GetString()!;
        var dtype = ParseDType(dtypeName)
            ?? throw new LstmException($"{what}: unknown dtype '{dtypeName}' (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");

        if (shapeValue is not { ValueKind: JsonValueKind.Array } sh)
            throw new LstmException($"{what}: 'shape' is missing or not an array");
        var shape = new int[sh.GetArrayLength()];
        int k = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim))
                throw new LstmException($"{what}: 'shape' must hold integers, not {Describe(d)}");
            if (dim < 0)
                throw new LstmException($"{what}: shape {sh.GetRawText()} has a negative dimension");
            if (dim > int.MaxValue)
                throw new LstmException($"{what}: shape {sh.GetRawText()} has a dimension larger than {int.MaxValue}");
            shape[k++] = (int)dim;
        }

        if (offsetsValue is not { ValueKind: JsonValueKind.Array } off || off.GetArrayLength() != 2)
            throw new LstmException($"{what}: 'data_offsets' is missing or not an array [begin, end]");
        long begin = ReadOffset(off[0], what), end = ReadOffset(off[1], what);
        if (end < begin)
            throw new LstmException($"{what}: data_offsets [{begin}, {end}] end before they begin");
        return (dtype, shape, begin, end);
    }

    private static long ReadOffset(JsonElement e, string what)
    {
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out long v) || v < 0)
            throw new LstmException($"{what}: 'data_offsets' must hold two non-negative integers, not {Describe(e)}");
        return v;
    }

    private static string Describe(JsonElement e)
    {
        string raw = e.GetRawText();
        return raw.Length <= 40 ? raw : raw[..40] + "...";
    }

    private byte[] BuildHeader()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256 + 96 * Tensors.Count);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            if (Metadata.Count > 0)
            {
                w.WriteStartObject(MetadataKey);
                foreach (var (key, value) in Metadata)
                    w.WriteString(key, value);
                w.WriteEndObject();
            }

            long offset = 0;
            foreach (var t in Tensors)
            {
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", DTypeName(t.DType));
                w.WriteStartArray("shape");
                foreach (int d in t.Shape)
                    w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                offset += t.Data.Length;
                w.WriteNumberValue(offset);
                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        int length = buffer.WrittenCount;
        int padded = (length + 7) & ~7;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(length).Fill((byte)' ');
        return header;
    }

    private void WriteTo(Stream stream) => WriteTo(stream, BuildHeader());

    private void WriteTo(Stream stream, byte[] header)
    {
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        stream.Write(prefix);
        stream.Write(header);
        foreach (var t in Tensors)
            stream.Write(t.Data.Span);
    }
}

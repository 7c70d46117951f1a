using System.Buffers.Binary;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Lstm.Runtime.Persistence;

/// <summary>
/// A safetensors file (https://github.com/huggingface/safetensors): an 8-byte little-endian
/// header length N, N bytes of UTF-8 JSON mapping each tensor's name to its dtype, shape and
/// <c>data_offsets</c> (plus optional string <c>__metadata__</c>), then the tensors' raw
/// little-endian bytes. Reads PyTorch's <c>safetensors.torch.save_file</c> output and writes
/// files it loads. Immutable.
/// </summary>
public sealed partial class SafeTensorsFile
{
    private const string MetadataKey = "__metadata__";
    private const int MaxNamesInMessage = 30;

    /// <summary>The largest JSON header read (100 MiB): a larger length field is refused before anything else is read.</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

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
                throw new LstmException($"{source}: tensor {Quote(t.Name)} appears twice");
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
            : "the file has: " + string.Join(", ", Tensors.Take(MaxNamesInMessage).Select(x => Quote(x.Name)))
              + (Tensors.Count > MaxNamesInMessage ? $", ... ({Tensors.Count - MaxNamesInMessage} more)" : string.Empty);
        throw new LstmException($"{_source}: tensor {Quote(name)} is missing ({has})");
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
                $"{_source}: tensor {Quote(name)} has shape {t.ShapeString}, expected {SafeTensor.FormatShape(expected)}");
        }

        return t;
    }

    /// <summary>
    /// Reads a safetensors file: the header is read and checked against the file's size at once
    /// (at most <see cref="MaxHeaderBytes"/> of it); each tensor's bytes are copied out of a
    /// memory mapping of the file the first time they are asked for, so a large file is never
    /// read whole and only the tensors used are copied.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <exception cref="LstmException">It does not exist, cannot be read, or is not a valid safetensors file; the message names the path and the problem.</exception>
    public static SafeTensorsFile Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
            throw new LstmException($"{path}: is a directory, not a safetensors file");
        if (!File.Exists(path))
            throw new LstmException($"{path}: no such file");
        try
        {
            using var stream = OpenShared(path);
            long fileLength = stream.Length;
            Span<byte> prefix = stackalloc byte[8];
            stream.ReadExactly(prefix[..(int)Math.Min(8, fileLength)]);
            long headerLength = ReadHeaderLength(prefix[..(int)Math.Min(8, fileLength)], fileLength, path);
            var header = new byte[headerLength];
            stream.ReadExactly(header);
            var (entries, metadata) = ParseHeader(header, fileLength - 8 - headerLength, path);
            var stamp = new FileStamp(path, fileLength, File.GetLastWriteTimeUtc(stream.SafeFileHandle));
            long dataStart = 8 + headerLength;
            var tensors = entries.Select(e => e.ByteCount == 0
                ? new SafeTensor(e.Name, e.DType, e.Shape, ReadOnlyMemory<byte>.Empty)
                : new SafeTensor(e.Name, e.DType, e.Shape, () => stamp.ReadRange(dataStart + e.Begin, e.ByteCount, e.Name)));
            return new SafeTensorsFile(tensors, metadata, path, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or System.Security.SecurityException)
        {
            throw new LstmException($"{path}: cannot read: {e.Message}", e);
        }
    }

    /// <summary>Parses the bytes of a safetensors file (the data is copied once).</summary>
    /// <param name="bytes">The whole file.</param>
    /// <param name="sourceName">What to call it in error messages (e.g. a path); null for "safetensors data".</param>
    /// <exception cref="LstmException">The bytes are not a valid safetensors file; the message names the source and the problem.</exception>
    public static SafeTensorsFile Parse(ReadOnlySpan<byte> bytes, string? sourceName = null)
    {
        string source = sourceName ?? "safetensors data";
        long headerLength = ReadHeaderLength(bytes[..Math.Min(8, bytes.Length)], bytes.Length, source);
        int dataStart = 8 + (int)headerLength;
        var (entries, metadata) = ParseHeader(bytes[8..dataStart], bytes.Length - dataStart, source);
        var data = bytes[dataStart..].ToArray();
        var tensors = entries.Select(e => new SafeTensor(e.Name, e.DType, e.Shape, data.AsMemory((int)e.Begin, (int)e.ByteCount)));
        return new SafeTensorsFile(tensors, metadata, path: null, source);
    }

    /// <summary>Writes the file atomically (<see cref="AtomicFile"/>).</summary>
    /// <param name="path">The file to write; replaced whole if it exists.</param>
    /// <exception cref="LstmException">It cannot be written; no temporary or partial file is left behind.</exception>
    public void Write(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0)
            throw new LstmException("cannot write a safetensors file to an empty path");
        AtomicFile.WriteStream(path, WriteTo);
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

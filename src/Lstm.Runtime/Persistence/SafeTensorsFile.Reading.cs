using System.Buffers.Binary;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Lstm.Runtime.Persistence;

// Parsing: the header length, the JSON header's entries and metadata, each checked against the data.
public sealed partial class SafeTensorsFile
{
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
}

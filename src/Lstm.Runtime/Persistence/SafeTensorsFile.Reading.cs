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
    private static long ReadHeaderLength(ReadOnlySpan<byte> prefix, long fileLength, string source)
    {
        if (fileLength < 8)
        {
            throw new LstmException(
                $"{source}: not a safetensors file: {fileLength} bytes, shorter than the 8-byte header length");
        }

        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > MaxHeaderBytes)
        {
            throw new LstmException(
                $"{source}: not a safetensors file: the header length {n} is over the limit of {MaxHeaderBytes} bytes");
        }

        if (n > (ulong)(fileLength - 8))
        {
            throw new LstmException(
                $"{source}: not a safetensors file: the header length {n} is larger than the {fileLength - 8} bytes after it (truncated file?)");
        }

        if (n < 2)
            throw new LstmException($"{source}: not a safetensors file: the header length is {n}, too short for a JSON object");
        return (long)n;
    }

    /// <summary>
    /// The header's entries, sorted by offset and checked against the data: each dtype known, each
    /// shape's byte count (in checked arithmetic) equal to its data_offsets' span, the spans
    /// covering the <paramref name="dataLength"/> bytes after the header exactly, without gaps or overlaps.
    /// </summary>
    private static (List<Entry> Entries, Dictionary<string, string> Metadata) ParseHeader(ReadOnlySpan<byte> header, long dataLength, string source)
    {
        var entries = new List<Entry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        string json;
        try
        {
            json = StrictUtf8.GetString(header);
        }
        catch (DecoderFallbackException e)
        {
            throw new LstmException($"{source}: the header is not valid UTF-8: {OneLine(e.Message)}", e);
        }

        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new LstmException($"{source}: the header is JSON but not an object");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            string? previous = null;
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                string name = EntryName(prop, previous, source);
                previous = name;
                if (name == MetadataKey)
                {
                    if (sawMetadata)
                        throw new LstmException($"{source}: '{MetadataKey}' appears twice in the header");
                    sawMetadata = true;
                    ReadMetadata(prop.Value, metadata, source);
                    continue;
                }

                if (!seen.Add(name))
                    throw new LstmException($"{source}: tensor {Quote(name)} appears twice in the header");
                entries.Add(ReadEntry(name, prop.Value, entries.Count, source));
            }
        }
        catch (JsonException e)
        {
            throw new LstmException($"{source}: the header is not valid JSON: {OneLine(e.Message)}", e);
        }

        // File order is data order; the data must be covered exactly, with no holes or overlaps.
        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End != b.End ? a.End.CompareTo(b.End) : a.Order.CompareTo(b.Order));
        long cursor = 0;
        foreach (var e in entries)
        {
            string what = $"{source}: tensor {Quote(e.Name)}";
            string offsets = $"data_offsets [{e.Begin}, {e.End}]";
            if (e.End > dataLength)
                throw new LstmException($"{what}: {offsets} run past the end of the data ({dataLength} bytes)");
            if (e.End - e.Begin != e.ByteCount)
            {
                throw new LstmException(
                    $"{what}: {offsets} hold {e.End - e.Begin} bytes, but shape {SafeTensor.FormatShape(e.Shape)} of {DTypeName(e.DType)} needs {e.ByteCount}");
            }

            if (e.Begin != cursor)
                throw new LstmException($"{what}: {offsets} {(e.Begin < cursor ? "overlap another tensor" : $"leave a gap after byte {cursor}")} of the data");
            cursor = e.End;
        }

        if (cursor != dataLength)
            throw new LstmException($"{source}: the tensors cover {cursor} bytes of data, but the file has {dataLength} after the header");
        return (entries, metadata);
    }

    /// <summary>
    /// An entry's name, refused when it is not valid Unicode (a lone UTF-16 surrogate escape such
    /// as <c>\ud800</c>, which has no UTF-8 form), empty, or holds control characters (no
    /// state dict's name does, and every message that names a tensor stays on one line).
    /// </summary>
    private static string EntryName(JsonProperty prop, string? previous, string source)
    {
        string? name = NameOrNull(prop);
        string where = previous is null ? "the header's first entry" : $"the header entry after {Quote(previous)}";
        if (name is null)
            throw new LstmException($"{source}: the name of {where} ({Clip(prop.ToString())}) is not valid Unicode (a lone UTF-16 surrogate escape?)");
        if (name.Length == 0)
            throw new LstmException($"{source}: {where} has an empty name");
        if (name.Any(c => char.IsControl(c) || c is '\u2028' or '\u2029'))
            throw new LstmException($"{source}: tensor {Quote(name)}: a name may not hold control characters or line breaks");
        return name;
    }

    /// <summary>The property's name, or null when it is not valid Unicode (a lone surrogate escape).</summary>
    private static string? NameOrNull(JsonProperty prop)
    {
        try
        {
            string name = prop.Name;
            return HasLoneSurrogate(name) ? null : name;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static bool HasLoneSurrogate(string s)
    {
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                i++;
            else if (char.IsSurrogate(s[i]))
                return true;
        }

        return false;
    }

    private static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, string source)
    {
        if (value.ValueKind == JsonValueKind.Null)
            return;
        if (value.ValueKind != JsonValueKind.Object)
            throw new LstmException($"{source}: '{MetadataKey}' must be an object of strings, not {Describe(value)}");
        foreach (var m in value.EnumerateObject())
        {
            string key = NameOrNull(m)
                ?? throw new LstmException($"{source}: a metadata key ({Clip(m.ToString())}) is not valid Unicode (a lone UTF-16 surrogate escape?)");
            if (m.Value.ValueKind != JsonValueKind.String)
                throw new LstmException($"{source}: metadata {Quote(key)} must be a string, not {Describe(m.Value)}");
            string text;
            try
            {
                text = m.Value.GetString()!;
            }
            catch (InvalidOperationException)
            {
                throw new LstmException($"{source}: metadata {Quote(key)} is not valid Unicode (a lone UTF-16 surrogate escape?)");
            }

            if (!metadata.TryAdd(key, text))
                throw new LstmException($"{source}: metadata {Quote(key)} appears twice in the header");
        }
    }

    private static Entry ReadEntry(string name, JsonElement value, int order, string source)
    {
        string what = $"{source}: tensor {Quote(name)}";
        if (value.ValueKind != JsonValueKind.Object)
            throw new LstmException($"{what}: the header entry must be an object, not {Describe(value)}");
        JsonElement? dtypeValue = null, shapeValue = null, offsetsValue = null;
        foreach (var field in value.EnumerateObject())
        {
            ref JsonElement? slot = ref dtypeValue;
            switch (NameOrNull(field))
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
        string dtypeName = StringOrRaw(dt);
        var dtype = ParseDType(dtypeName)
            ?? throw new LstmException($"{what}: unknown dtype {Quote(Clip(dtypeName))} (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");

        if (shapeValue is not { ValueKind: JsonValueKind.Array } sh)
            throw new LstmException($"{what}: 'shape' is missing or not an array");
        var shape = new int[sh.GetArrayLength()];
        int k = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim))
                throw new LstmException($"{what}: 'shape' must hold integers, not {Describe(d)}");
            if (dim < 0)
                throw new LstmException($"{what}: shape {Describe(sh)} has a negative dimension");
            if (dim > int.MaxValue)
                throw new LstmException($"{what}: shape {Describe(sh)} has a dimension larger than {int.MaxValue}");
            shape[k++] = (int)dim;
        }

        if (offsetsValue is not { ValueKind: JsonValueKind.Array } off || off.GetArrayLength() != 2)
            throw new LstmException($"{what}: 'data_offsets' is missing or not an array [begin, end]");
        long begin = ReadOffset(off[0], what), end = ReadOffset(off[1], what);
        if (end < begin)
            throw new LstmException($"{what}: data_offsets [{begin}, {end}] end before they begin");
        return new Entry(name, dtype, shape, begin, end, SafeTensor.CountBytes(shape, dtype, what), order);
    }

    private static long ReadOffset(JsonElement e, string what)
    {
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out long v) || v < 0)
            throw new LstmException($"{what}: 'data_offsets' must hold two non-negative integers, not {Describe(e)}");
        return v;
    }

    /// <summary>A JSON string's value, or its raw text when it is not valid Unicode.</summary>
    private static string StringOrRaw(JsonElement e)
    {
        try
        {
            return e.GetString()!;
        }
        catch (InvalidOperationException)
        {
            return e.GetRawText();
        }
    }

    private static string Describe(JsonElement e) => Clip(e.GetRawText());

    /// <summary>A name in quotes for a one-line message: control characters, quotes and backslashes escaped, lone surrogates as \uXXXX.</summary>
    internal static string Quote(string name)
    {
        var sb = new StringBuilder(name.Length + 2).Append('\'');
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            bool pair = char.IsHighSurrogate(c) && i + 1 < name.Length && char.IsLowSurrogate(name[i + 1]);
            if (pair)
            {
                sb.Append(c).Append(name[++i]);
            }
            else if (c == '\\' || c == '\'')
            {
                sb.Append('\\').Append(c);
            }
            else if (char.IsControl(c) || char.IsSurrogate(c) || c is '\u2028' or '\u2029')
            {
                sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.Append('\'').ToString();
    }

    private static string Clip(string raw)
    {
        raw = OneLine(raw);
        return raw.Length <= 60 ? raw : raw[..60] + "...";
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");

    /// <summary>One header entry: name, dtype, shape, data_offsets, byte count and place in the header.</summary>
    private readonly record struct Entry(string Name, SafeTensorDType DType, int[] Shape, long Begin, long End, long ByteCount, int Order);
}

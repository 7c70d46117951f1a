using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Lstm.Runtime.Tests;

/// <summary>
/// Seeded mutations of a safetensors file's bytes: bit flips, header bytes, truncation,
/// extension, the length field, and edits of the parsed header (shapes, offsets, dtypes, names,
/// duplicated, added, removed and reordered entries, metadata) written back as raw JSON text,
/// so that it can hold what no JSON writer would (lone surrogate escapes, duplicate keys).
/// </summary>
internal sealed class SafeTensorsMutator
{
    private static readonly string[] DTypes = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"];

    private static readonly string[] BadDTypes = ["\"f32\"", "\"F8\"", "\"\"", "1", "null", "\"F3\\ud800\"", "[\"F32\"]", "\"F32 \""];

    private static readonly string[] Dims =
        ["0", "1", "2", "-1", "1073741824", "2147483647", "2147483648", "4611686018427387904", "9223372036854775807", "9223372036854775808", "1e20", "1.5", "\"3\"", "null", "[]", "3.0"];

    private static readonly string[] Offsets =
        ["0", "-1", "1", "9223372036854775807", "9223372036854775808", "1e30", "4.0", "\"4\"", "null", "18446744073709551615"];

    private static readonly string[] HeaderBytes = ["\"", "{", "}", "[", "]", ",", ":", "0", "9", "-", "\\", " ", "e", "\u0000", "\u00ff"];

    private readonly byte[] _bytes;
    private readonly int _headerLength;
    private readonly string? _metadata;
    private readonly List<Item> _entries = [];

    public SafeTensorsMutator(byte[] bytes)
    {
        _bytes = bytes;
        _headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, _headerLength));
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__")
            {
                _metadata = p.Value.GetRawText();
                continue;
            }

            var off = p.Value.GetProperty("data_offsets");
            _entries.Add(new Item(
                Escape(p.Name),
                p.Value.GetProperty("dtype").GetRawText(),
                p.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetRawText()).ToList(),
                off[0].GetRawText(),
                off[1].GetRawText()));
        }
    }

    private int DataLength => _bytes.Length - 8 - _headerLength;

    /// <summary>One mutant and what was done to make it.</summary>
    public (byte[] Bytes, string What) Mutate(Random rng)
    {
        int rounds = rng.Next(10) == 0 ? 2 + rng.Next(2) : 1;
        var entries = _entries.Select(e => e.Clone()).ToList();
        string? metadata = _metadata;
        byte[] data = _bytes[(8 + _headerLength)..];
        var what = new List<string>();
        bool structured = false;
        var raw = new List<Func<byte[], byte[]>>();
        for (int r = 0; r < rounds; r++)
        {
            int kind = rng.Next(16);
            if (kind <= 4)
            {
                // Byte-level edits of the whole file, applied after the structured ones.
                raw.Add(ByteEdit(kind, rng, what));
                continue;
            }

            structured = true;
            if (entries.Count == 0)
            {
                what.Add("no entries");
                continue;
            }

            var e = entries[rng.Next(entries.Count)];
            switch (kind)
            {
                case 5 or 6:
                    EditShape(e, rng, what);
                    break;
                case 7:
                    EditOffsets(e, entries, rng, what);
                    break;
                case 8:
                    e.DType = rng.Next(3) == 0 ? BadDTypes[rng.Next(BadDTypes.Length)] : $"\"{DTypes[rng.Next(DTypes.Length)]}\"";
                    what.Add($"dtype {e.RawName} -> {e.DType}");
                    break;
                case 9 or 10:
                    EditName(e, entries, rng, what);
                    break;
                case 11:
                {
                    var copy = e.Clone();
                    if (rng.Next(2) == 0)
                    {
                        copy.Begin = e.End;
                        copy.End = e.End;
                    }

                    entries.Insert(rng.Next(entries.Count + 1), copy);
                    what.Add($"duplicated key {e.RawName}");
                    break;
                }

                case 12:
                {
                    string end = DataLength.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    var (shape, b, en) = rng.Next(3) switch
                    {
                        0 => (new List<string> { "1073741824", "1073741824", "4" }, "0", "0"),
                        1 => (new List<string> { "0" }, end, end),
                        _ => (new List<string> { "2147483647", "2147483647", "2" }, end, end),
                    };
                    string name = rng.Next(3) switch { 0 => "unused", 1 => "grad.unused", _ => "weight_ih_l99999999999" };
                    entries.Insert(rng.Next(entries.Count + 1), new Item(name, "\"F32\"", shape, b, en));
                    what.Add($"added {name} {string.Join(",", shape)} [{b},{en}]");
                    break;
                }

                case 13:
                    entries.Remove(e);
                    what.Add($"removed {e.RawName}");
                    break;
                case 14:
                {
                    // Reordering the header's entries keeps a valid file.
                    int i = rng.Next(entries.Count), j = rng.Next(entries.Count);
                    (entries[i], entries[j]) = (entries[j], entries[i]);
                    what.Add($"swapped entries {i} and {j}");
                    break;
                }

                default:
                    metadata = rng.Next(6) switch
                    {
                        0 => null,
                        1 => "{\"k\":1}",
                        2 => "{\"k\":{\"a\":\"b\"}}",
                        3 => "[\"a\"]",
                        4 => "{\"k\":\"a\",\"k\":\"b\"}",
                        _ => "{\"format\":\"lstm-golden/1\",\"\\ud800\":\"x\"}",
                    };
                    what.Add($"metadata -> {metadata ?? "(none)"}");
                    break;
            }
        }

        byte[] bytes = _bytes;
        if (structured)
        {
            var header = new StringBuilder("{");
            if (metadata is not null)
                header.Append("\"__metadata__\":").Append(metadata);
            foreach (var e in entries)
            {
                if (header.Length > 1)
                    header.Append(',');
                header.Append('"').Append(e.RawName).Append("\":{\"dtype\":").Append(e.DType)
                    .Append(",\"shape\":[").Append(string.Join(",", e.Shape)).Append("],\"data_offsets\":[").Append(e.Begin).Append(',').Append(e.End).Append("]}");
            }

            header.Append('}');
            while (Encoding.UTF8.GetByteCount(header.ToString()) % 8 != 0)
                header.Append(' ');
            byte[] h = Encoding.UTF8.GetBytes(header.ToString());
            bytes = new byte[8 + h.Length + data.Length];
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)h.Length);
            h.CopyTo(bytes, 8);
            data.CopyTo(bytes, 8 + h.Length);
        }

        foreach (var edit in raw)
            bytes = edit(bytes);
        return (bytes, string.Join("; ", what));
    }

    private Func<byte[], byte[]> ByteEdit(int kind, Random rng, List<string> what)
    {
        int seed = rng.Next();
        switch (kind)
        {
            case 0:
                what.Add("bit flips");
                return b =>
                {
                    var r = new Random(seed);
                    var c = (byte[])b.Clone();
                    if (c.Length == 0)
                        return c;
                    int n = 1 + r.Next(8);
                    int headerEnd = c.Length < 8 ? c.Length : (int)Math.Min((ulong)c.Length, 8 + Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(c), (ulong)c.Length));
                    for (int i = 0; i < n; i++)
                    {
                        int at = r.Next(10) < 8 ? r.Next(headerEnd) : r.Next(c.Length);
                        c[at] ^= (byte)(1 << r.Next(8));
                    }

                    return c;
                };
            case 1:
                what.Add("header byte");
                return b =>
                {
                    var r = new Random(seed);
                    var c = (byte[])b.Clone();
                    if (c.Length < 9)
                        return c;
                    int at = 8 + r.Next(Math.Max(1, Math.Min(c.Length - 8, (int)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(c), int.MaxValue))));
                    byte[] v = Encoding.UTF8.GetBytes(HeaderBytes[r.Next(HeaderBytes.Length)]);
                    if (r.Next(4) == 0)
                        v = [(byte)r.Next(256)];
                    if (at + v.Length <= c.Length)
                        v.CopyTo(c, at);
                    return c;
                };
            case 2:
                what.Add("truncated");
                return b => b[..new Random(seed).Next(b.Length)];
            case 3:
                what.Add("extended");
                return b =>
                {
                    var r = new Random(seed);
                    var tail = new byte[1 + r.Next(64)];
                    if (r.Next(2) == 0)
                        r.NextBytes(tail);
                    return [.. b, .. tail];
                };
            default:
                what.Add("length field");
                return b =>
                {
                    var r = new Random(seed);
                    var c = (byte[])b.Clone();
                    if (c.Length < 8)
                        return c;
                    ulong n = BinaryPrimitives.ReadUInt64LittleEndian(c);
                    ulong[] choices = [n + 1, n - 1, n + (ulong)r.Next(1, 64), n - (ulong)r.Next(1, 8), 0, 1, 2, (ulong)r.NextInt64(), 1UL << 63, 100UL * 1024 * 1024 + 1, (ulong)c.Length - 8, (ulong)c.Length, ulong.MaxValue];
                    BinaryPrimitives.WriteUInt64LittleEndian(c, choices[r.Next(choices.Length)]);
                    return c;
                };
        }
    }

    private static void EditShape(Item e, Random rng, List<string> what)
    {
        switch (rng.Next(5))
        {
            case 0 when e.Shape.Count > 0:
                e.Shape[rng.Next(e.Shape.Count)] = Dims[rng.Next(Dims.Length)];
                break;
            case 1:
                e.Shape.Insert(rng.Next(e.Shape.Count + 1), Dims[rng.Next(4)]);
                break;
            case 2 when e.Shape.Count > 0:
                e.Shape.RemoveAt(rng.Next(e.Shape.Count));
                break;
            case 3 when e.Shape.Count > 1:
                e.Shape.Reverse();
                break;
            default:
                e.Shape = ["1073741824", "1073741824", "4"];
                break;
        }

        what.Add($"shape {e.RawName} -> [{string.Join(",", e.Shape)}]");
    }

    private void EditOffsets(Item e, List<Item> entries, Random rng, List<string> what)
    {
        static string Shift(string v, long by) =>
            long.TryParse(v, out long x) ? (x + by).ToString(System.Globalization.CultureInfo.InvariantCulture) : v;
        switch (rng.Next(6))
        {
            case 0:
                e.Begin = Shift(e.Begin, rng.Next(2) == 0 ? 1 : -rng.Next(1, 9));
                break;
            case 1:
                e.End = Shift(e.End, rng.Next(2) == 0 ? -1 : rng.Next(1, 9));
                break;
            case 2:
                (e.Begin, e.End) = (e.End, e.Begin);
                break;
            case 3:
                var other = entries[rng.Next(entries.Count)];
                (e.Begin, e.End) = (other.Begin, other.End);
                break;
            case 4:
                e.End = DataLength.ToString(System.Globalization.CultureInfo.InvariantCulture);
                break;
            default:
                if (rng.Next(2) == 0)
                    e.Begin = Offsets[rng.Next(Offsets.Length)];
                else
                    e.End = Offsets[rng.Next(Offsets.Length)];
                break;
        }

        what.Add($"offsets {e.RawName} -> [{e.Begin},{e.End}]");
    }

    private static void EditName(Item e, List<Item> entries, Random rng, List<string> what)
    {
        string name = e.RawName;
        e.RawName = rng.Next(14) switch
        {
            0 => "weight_ih_l99999999999",
            1 => "weight_hh_l99999999999999999999_reverse",
            2 => name.Replace("_l0", "_l\u0661", StringComparison.Ordinal),
            3 => name.Replace("_l0", "_l\\u0660", StringComparison.Ordinal),
            4 => "\\ud800",
            5 => name + "\\udc00",
            6 => "grad." + name,
            7 => "lstm." + name,
            8 => name.Replace("_l0", "_l1", StringComparison.Ordinal),
            9 => "",
            10 => "__metadata__",
            11 => name.Length > 1 ? name.Remove(rng.Next(name.Length), 1) : name + "x",
            12 => entries[rng.Next(entries.Count)].RawName,
            _ => name + "\\n\\u0000",
        };
        what.Add($"name {name} -> {e.RawName}");
    }

    private static string Escape(string name)
    {
        string quoted = JsonSerializer.Serialize(name);
        return quoted[1..^1];
    }

    private sealed class Item(string rawName, string dtype, List<string> shape, string begin, string end)
    {
        public string RawName { get; set; } = rawName;

        public string DType { get; set; } = dtype;

        public List<string> Shape { get; set; } = shape;

        public string Begin { get; set; } = begin;

        public string End { get; set; } = end;

        public Item Clone() => new(RawName, DType, [.. Shape], Begin, End);
    }
}

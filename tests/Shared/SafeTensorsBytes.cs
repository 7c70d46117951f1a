using System.Buffers.Binary;
using System.Text;
using Lstm.Runtime.Persistence;

namespace Lstm.Tests.Shared;

/// <summary>Raw safetensors bytes for tests of bad files: any header text, any length field, any data.</summary>
public static class SafeTensorsBytes
{
    /// <summary>The 8-byte length, the header text as UTF-8 and the data; the length field is the header's unless given.</summary>
    public static byte[] Build(string header, byte[] data, ulong? lengthField = null)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, lengthField ?? (ulong)h.Length);
        h.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + h.Length);
        return bytes;
    }

    /// <summary>The header JSON of an entry: <c>"name":{"dtype":…,"shape":[…],"data_offsets":[b,e]}</c>, the name written as given (escapes included).</summary>
    public static string Entry(string rawName, string dtype, string shape, long begin, long end) =>
        $"\"{rawName}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    /// <summary>A file's tensors with one renamed (the others and the metadata kept, in order).</summary>
    public static SafeTensorsFile Renamed(SafeTensorsFile file, string from, string to) =>
        new(file.Tensors.Select(t => t.Name == from ? new SafeTensor(to, t.DType, t.Shape.ToArray(), t.Data.ToArray()) : t), file.Metadata);
}

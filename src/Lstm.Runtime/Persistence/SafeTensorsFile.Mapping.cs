using System.IO.MemoryMappedFiles;

namespace Lstm.Runtime.Persistence;

// Reading a tensor's bytes out of a memory mapping of its file, when they are first asked for.
public sealed partial class SafeTensorsFile
{
    private static FileStream OpenShared(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 1, FileOptions.RandomAccess);

    /// <summary>
    /// A file as it was when its header was read: path, length and last write time. The tensors'
    /// bytes are read from it later; a file replaced or changed in between is refused rather than
    /// mixed with the header read before.
    /// </summary>
    private sealed record FileStamp(string Path, long Length, DateTime LastWriteUtc)
    {
        /// <summary>Copies <paramref name="count"/> bytes at <paramref name="offset"/> out of a read-only mapping of the file.</summary>
        public ReadOnlyMemory<byte> ReadRange(long offset, long count, string tensor)
        {
            string what = $"{Path}: tensor {Quote(tensor)}";
            if (count > Array.MaxLength)
                throw new LstmException($"{what}: {count} bytes, more than an array holds ({Array.MaxLength})");
            try
            {
                using var stream = OpenShared(Path);
                if (stream.Length != Length || File.GetLastWriteTimeUtc(stream.SafeFileHandle) != LastWriteUtc)
                    throw new LstmException($"{what}: the file has changed since its header was read");
                using var map = MemoryMappedFile.CreateFromFile(stream, mapName: null, capacity: 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
                using var view = map.CreateViewAccessor(offset, count, MemoryMappedFileAccess.Read);
                var bytes = new byte[count];
                view.ReadArray(0, bytes, 0, bytes.Length);
                return bytes;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or System.Security.SecurityException)
            {
                throw new LstmException($"{what}: cannot read: {e.Message}", e);
            }
        }
    }
}

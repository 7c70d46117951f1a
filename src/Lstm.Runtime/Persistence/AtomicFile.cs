using System.Security.Cryptography;
using System.Text;

namespace Lstm.Runtime.Persistence;

/// <summary>
/// Writes a file whole or not at all: the content goes to a temporary file in the same directory,
/// flushed to disk, then renamed over the target, so a reader (or a crash) never sees half of it.
/// Every file this library writes goes through here. Only a regular file is replaced: a symbolic
/// link, a FIFO, a socket, a device or a folder at the target is refused (the rename would put a
/// regular file in its place, not write through it).
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes text (UTF-8, no byte-order mark) atomically.</summary>
    /// <param name="path">The file; replaced whole if it exists.</param>
    /// <param name="text">The content.</param>
    /// <exception cref="LstmException">The file cannot be written; the message names it.</exception>
    public static void WriteAllText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        WriteAllBytes(path, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text));
    }

    /// <summary>Writes bytes atomically.</summary>
    /// <param name="path">The file; replaced whole if it exists.</param>
    /// <param name="bytes">The content.</param>
    /// <exception cref="LstmException">The file cannot be written; the message names it.</exception>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var content = bytes.ToArray();
        Write(path, temp =>
        {
            using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        });
    }

    /// <summary>Writes a stream atomically: <paramref name="write"/> fills it, then it is flushed to disk.</summary>
    /// <param name="path">The file; replaced whole if it exists.</param>
    /// <param name="write">Writes the whole content.</param>
    /// <exception cref="LstmException">The file cannot be written; the message names it.</exception>
    public static void WriteStream(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        Write(path, temp =>
        {
            using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            write(stream);
            stream.Flush(flushToDisk: true);
        });
    }

    /// <summary>
    /// Throws unless <paramref name="path"/> is absent or a regular file, the only things a write
    /// here replaces: a symbolic link, a special file (FIFO, socket, device) or a folder is refused.
    /// </summary>
    /// <param name="path">The file to be written.</param>
    /// <param name="option">The option that named it (e.g. <c>--save</c>), for the message; null for none.</param>
    /// <exception cref="LstmException">Something other than a regular file is there; the message names it and what it is.</exception>
    public static void CheckTarget(string path, string? option = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var kind = PathKinds.Of(path);
        string name = option is null ? path : $"{option} {path}";
        switch (kind)
        {
            case PathKind.Absent or PathKind.File:
                return;
            case PathKind.Directory:
                throw new LstmException($"{name}: cannot write: it is a directory");
            case PathKind.SymbolicLink:
                throw new LstmException($"{name}: cannot write: it is a symbolic link, which would be replaced by a regular file rather than written through; name the file itself");
            default:
                throw new LstmException($"{name}: cannot write: it is {PathKinds.Describe(kind)}, which would be replaced by a regular file; name a regular file");
        }
    }

    /// <summary>
    /// Lets <paramref name="writeTemp"/> write a temporary file (a path in the target's directory
    /// ending in the target's extension), then renames it over <paramref name="path"/>; on any
    /// failure the temporary file is deleted and the target is left as it was.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="writeTemp">Writes the whole content to the path it is given.</param>
    /// <exception cref="LstmException">
    /// The path is not valid, its directory does not exist, it is not a regular file (see
    /// <see cref="CheckTarget"/>), or the file cannot be written; the message names it.
    /// </exception>
    public static void Write(string path, Action<string> writeTemp)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(writeTemp);
        string full;
        try
        {
            full = Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new LstmException($"{path}: not a valid path: {e.Message}", e);
        }

        string? directory = Path.GetDirectoryName(full);
        if (directory is not null && !Directory.Exists(directory))
            throw new LstmException($"{path}: cannot write: the directory {directory} does not exist");
        CheckTarget(path);
        string temp = Path.Combine(
            directory ?? ".",
            "." + Path.GetFileNameWithoutExtension(full) + ".tmp-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)) + Path.GetExtension(full));
        try
        {
            writeTemp(temp);
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
}

using System.Security.Cryptography;
using System.Text;

namespace Lstm.Runtime.Persistence;

/// <summary>
/// Writes a file whole or not at all: the content goes to a temporary file in the same directory,
/// flushed to disk, then renamed over the target, so a reader (or a crash) never sees half of it.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes text (UTF-8, no byte-order mark) atomically.</summary>
    /// <param name="path">The file; replaced whole if it exists.</param>
    /// <param name="text">The content.</param>
    public static void WriteAllText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        Write(path, temp =>
        {
            using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            var bytes = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text);
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        });
    }

    /// <summary>
    /// Lets <paramref name="writeTemp"/> write a temporary file (a path in the target's directory
    /// ending in the target's extension), then renames it over <paramref name="path"/>; on any
    /// failure the temporary file is deleted and the target is left as it was.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="writeTemp">Writes the whole content to the path it is given.</param>
    /// <exception cref="LstmException">The file cannot be written; the message names it.</exception>
    public static void Write(string path, Action<string> writeTemp)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(writeTemp);
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(
            Path.GetDirectoryName(full) ?? ".",
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

            if (e is IOException or UnauthorizedAccessException)
                throw new LstmException($"{path}: cannot write: {e.Message}", e);
            throw;
        }
    }
}

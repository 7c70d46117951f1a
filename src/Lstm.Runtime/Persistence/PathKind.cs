using System.Runtime.InteropServices;

namespace Lstm.Runtime.Persistence;

/// <summary>What a path names, without following a symbolic link at its end.</summary>
public enum PathKind
{
    /// <summary>Nothing is there.</summary>
    Absent,

    /// <summary>A regular file.</summary>
    File,

    /// <summary>A directory.</summary>
    Directory,

    /// <summary>A symbolic link (to anything, or dangling).</summary>
    SymbolicLink,

    /// <summary>A FIFO, a socket, or a character or block device.</summary>
    Special,
}

/// <summary>
/// Tells regular files from symbolic links, directories and special files (FIFOs, sockets,
/// devices), which .NET's file API does not: on Linux through <c>statx(2)</c> with
/// <c>AT_SYMLINK_NOFOLLOW</c>; elsewhere from the file attributes, which know links and directories.
/// </summary>
public static partial class PathKinds
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const int StatxSize = 256;
    private const int ModeOffset = 28;
    private const int Enoent = 2;
    private const int Enotdir = 20;

    private static bool _statxMissing = !OperatingSystem.IsLinux();

    /// <summary>What <paramref name="path"/> names (a link at its end is not followed).</summary>
    /// <param name="path">The path.</param>
    /// <exception cref="LstmException">The path cannot be examined; the message names it.</exception>
    public static PathKind Of(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!_statxMissing)
        {
            try
            {
                return OfStatx(path);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                _statxMissing = true;
            }
        }

        return OfAttributes(path);
    }

    /// <summary>A phrase naming a kind, for messages ("a symbolic link").</summary>
    /// <param name="kind">The kind.</param>
    public static string Describe(PathKind kind) => kind switch
    {
        PathKind.Absent => "absent",
        PathKind.File => "a regular file",
        PathKind.Directory => "a folder",
        PathKind.SymbolicLink => "a symbolic link",
        _ => "a special file (FIFO, socket or device)",
    };

    private static unsafe PathKind OfStatx(string path)
    {
        byte* buffer = stackalloc byte[StatxSize];
        if (Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is Enoent or Enotdir)
                return PathKind.Absent;
            throw new LstmException($"{path}: cannot examine it: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        int type = *(ushort*)(buffer + ModeOffset) & 0xF000;
        return type switch
        {
            0x8000 => PathKind.File,
            0x4000 => PathKind.Directory,
            0xA000 => PathKind.SymbolicLink,
            _ => PathKind.Special,
        };
    }

    private static PathKind OfAttributes(string path)
    {
        FileAttributes attributes;
        try
        {
            attributes = System.IO.File.GetAttributes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return PathKind.Absent;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new LstmException($"{path}: cannot examine it: {e.Message}", e);
        }

        if ((attributes & FileAttributes.ReparsePoint) != 0)
            return PathKind.SymbolicLink;
        if ((attributes & FileAttributes.Directory) != 0)
            return PathKind.Directory;
        return (attributes & FileAttributes.Device) != 0 ? PathKind.Special : PathKind.File;
    }

    [LibraryImport("libc.so.6", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int directory, string path, int flags, uint mask, byte* buffer);
}

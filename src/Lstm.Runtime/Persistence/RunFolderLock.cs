namespace Lstm.Runtime.Persistence;

/// <summary>
/// The one process that trains in a run folder: it holds the folder's <c>run.lock</c> open with
/// <see cref="FileShare.None"/>, which .NET turns into an exclusive <c>flock</c> on Unix and a
/// sharing lock on Windows. The operating system drops the lock when the process ends, killed or
/// not, so a crashed run never blocks its resume; a second process is refused at once.
/// </summary>
/// <remarks>
/// The file is removed when the lock is given back (a killed process leaves it, harmlessly). A
/// process that opened the file just before another removed it would then hold a lock on a file
/// that no longer has a name; it checks for that after locking and tries again.
/// </remarks>
public sealed class RunFolderLock : IDisposable
{
    private const int Attempts = 5;
    private FileStream? _stream;

    private RunFolderLock(FileStream stream, string path, bool created)
    {
        _stream = stream;
        Path = path;
        CreatedFile = created;
    }

    /// <summary>The lock file.</summary>
    public string Path { get; }

    /// <summary>Whether this process created the lock file (rather than taking over one a killed process left).</summary>
    public bool CreatedFile { get; }

    /// <summary>Takes the lock of the run folder <paramref name="folder"/> (which exists), or throws at once.</summary>
    /// <param name="folder">The run folder.</param>
    /// <param name="option">The option that named it, for messages (<c>--out</c>, <c>--resume</c>).</param>
    /// <exception cref="LstmException">Another process holds it (the message says so), or the lock file cannot be made.</exception>
    public static RunFolderLock Acquire(string folder, string option)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(option);
        string path = System.IO.Path.Combine(folder, RunFiles.Lock);
        for (int attempt = 0; attempt < Attempts; attempt++)
        {
            var kind = PathKinds.Of(path);
            if (kind is not (PathKind.Absent or PathKind.File))
                throw new LstmException($"{option} {folder}: {RunFiles.Lock} is {PathKinds.Describe(kind)}; a run folder's lock must be a regular file");
            FileStream stream;
            try
            {
                stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            }
            catch (IOException e) when (IsSharingViolation(e))
            {
                throw Busy(folder, option);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new LstmException($"{option} {folder}: cannot take the run folder's lock ({RunFiles.Lock}): {e.Message}", e);
            }

            if (IsUnlinked(stream, path))
            {
                // The holder before us removed the file between our open and our lock.
                stream.Dispose();
                continue;
            }

            return new RunFolderLock(stream, path, kind == PathKind.Absent);
        }

        throw Busy(folder, option);
    }

    /// <summary>Gives the lock back and removes the lock file (removing it first, so that no one takes a lock on a file about to go).</summary>
    public void Dispose()
    {
        if (_stream is null)
            return;
        try
        {
            File.Delete(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The folder may be gone already (a discarded new run); the lock goes with the handle.
        }

        _stream.Dispose();
        _stream = null;
    }

    /// <summary>Gives the lock back and leaves the lock file where it is (another run's folder, or a file this process did not make).</summary>
    public void Abandon()
    {
        _stream?.Dispose();
        _stream = null;
    }

    private static LstmException Busy(string folder, string option) =>
        new($"{option} {folder}: another process is training in this run folder (it holds {RunFiles.Lock}); wait for it to end, or use another folder. Nothing was changed");

    /// <summary>The error .NET reports for a file another handle has locked (EWOULDBLOCK/EAGAIN on Unix, a sharing or lock violation on Windows).</summary>
    private static bool IsSharingViolation(IOException e)
    {
        if (e is FileNotFoundException or DirectoryNotFoundException or PathTooLongException)
            return false;
        int code = e.HResult & 0xFFFF;
        return OperatingSystem.IsWindows() ? code is 32 or 33 : code is 11 or 35;
    }

    /// <summary>Whether the locked handle's file no longer has the lock file's name (removed, or replaced by another).</summary>
    private static bool IsUnlinked(FileStream stream, string path)
    {
        if (OperatingSystem.IsLinux())
        {
            string link = $"/proc/self/fd/{stream.SafeFileHandle.DangerousGetHandle()}";
            try
            {
                if (new FileInfo(link).LinkTarget is { } target)
                    return target.EndsWith(" (deleted)", StringComparison.Ordinal);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // No /proc: fall back to the name.
            }
        }

        return !File.Exists(path);
    }
}

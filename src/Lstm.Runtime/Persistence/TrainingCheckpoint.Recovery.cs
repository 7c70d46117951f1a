using System.Security.Cryptography;
using System.Text.Json;

namespace Lstm.Runtime.Persistence;

/// <summary>
/// What a checkpoint's <c>manifest.json</c> holds, written last: the step, and the SHA-256 (lower
/// case hex) of every other file of the checkpoint under its name.
/// </summary>
/// <param name="Format">The file's format version (1).</param>
/// <param name="Step">The step of the checkpoint (its <c>trainer.json</c>'s).</param>
/// <param name="Files">Each file's SHA-256 by name.</param>
public sealed record CheckpointManifest(int Format, long Step, IReadOnlyDictionary<string, string> Files);

/// <summary>What <see cref="TrainingCheckpoint.Recover"/> found and did.</summary>
/// <param name="Directory">The checkpoint directory, now complete under its own name; null when no complete checkpoint exists.</param>
/// <param name="Step">Its step, or null.</param>
/// <param name="Notes">One sentence per directory moved into place or removed; empty when nothing was interrupted.</param>
public sealed record CheckpointRecovery(string? Directory, long? Step, IReadOnlyList<string> Notes);

public static partial class TrainingCheckpoint
{
    private const string TempMark = ".tmp-";
    private const string AsideMark = ".old-";

    /// <summary>
    /// The complete checkpoint for <paramref name="directory"/>, its files checked against its
    /// manifest: among the directory itself and what interrupted writes left beside it
    /// (<c>.NAME.tmp-*</c> committed but not yet renamed, <c>.NAME.old-*</c> renamed aside), the one
    /// with a manifest and the highest step. Nothing is moved; <see cref="Recover"/> does that.
    /// </summary>
    /// <param name="directory">A checkpoint directory (e.g. <c>runs/x/last</c>).</param>
    /// <exception cref="LstmException">No complete checkpoint is there, or a file of it is damaged (the message names it).</exception>
    public static string Locate(string directory)
    {
        var (full, parent, name) = Split(directory);
        CheckNotLink(full, directory);
        var found = Candidates(parent, name).FirstOrDefault();
        if (found is null)
        {
            throw new LstmException(Directory.Exists(full)
                ? $"{directory}: not a complete training checkpoint (no {RunFiles.Manifest}, which a checkpoint writes last)"
                : $"{directory}: no checkpoint there (the directory does not exist)");
        }

        Verify(found.Path);
        return found.Path;
    }

    /// <summary>
    /// Makes <paramref name="directory"/> hold its newest complete checkpoint again after an
    /// interrupted write: the committed directory with the highest step (see <see cref="Locate"/>)
    /// is checked and renamed into place, and every other <c>.NAME.tmp-*</c> and <c>.NAME.old-*</c>
    /// (incomplete or older) is removed. Each step leaves the newest checkpoint findable, so a crash
    /// during recovery is recovered the same way.
    /// </summary>
    /// <param name="directory">A checkpoint directory (e.g. <c>runs/x/last</c>).</param>
    /// <returns>The checkpoint now in place (or none) and a sentence per change.</returns>
    /// <exception cref="LstmException">
    /// The newest checkpoint's files do not match its manifest, or the directory exists without a
    /// manifest and nothing else is complete, or it is not a directory; nothing is changed then.
    /// </exception>
    public static CheckpointRecovery Recover(string directory)
    {
        var (full, parent, name) = Split(directory);
        var notes = new List<string>();
        if (!Directory.Exists(parent))
            return new CheckpointRecovery(null, null, notes);
        CheckNotLink(full, directory);
        var candidates = Candidates(parent, name);
        if (candidates.Count == 0 && Directory.Exists(full))
            throw new LstmException($"{directory}: not a complete training checkpoint (no {RunFiles.Manifest}, which a checkpoint writes last)");
        var chosen = candidates.FirstOrDefault();
        if (chosen is not null)
        {
            Verify(chosen.Path);
            if (!chosen.Named)
            {
                try
                {
                    if (Directory.Exists(full))
                        Directory.Move(full, Path.Combine(parent, $".{name}{AsideMark}{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}"));
                    Directory.Move(chosen.Path, full);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new LstmException($"{directory}: cannot move the checkpoint of step {chosen.Step} back into place from {Path.GetFileName(chosen.Path)}: {e.Message}", e);
                }

                notes.Add(Path.GetFileName(chosen.Path).Contains(TempMark, StringComparison.Ordinal)
                    ? $"{name}/: the checkpoint of step {chosen.Step} was complete in {Path.GetFileName(chosen.Path)} but not yet renamed into place (its write was interrupted there); moved into place"
                    : $"{name}/: the checkpoint of step {chosen.Step} had been renamed aside to {Path.GetFileName(chosen.Path)} by a write that was interrupted; moved back");
            }
        }

        foreach (var left in Leftovers(parent, name))
        {
            long? step = ReadManifestStep(left.FullName);
            string what = step is { } s
                ? $"the checkpoint of step {s}, superseded by that of step {chosen!.Step}"
                : left.Name.Contains(TempMark, StringComparison.Ordinal)
                    ? "a checkpoint whose write was interrupted before it was complete"
                    : "what was left of a superseded checkpoint whose removal was interrupted";
            TryDelete(left.FullName);
            notes.Add($"{name}/: removed {left.Name}, {what}");
        }

        return new CheckpointRecovery(chosen is null ? null : full, chosen?.Step, notes);
    }

    /// <summary>
    /// Checks a checkpoint directory against its manifest: every file it lists is a regular file
    /// with the recorded SHA-256, the weights, optimizer state and trainer state are among them,
    /// the trainer state's step is the manifest's, and nothing in the directory is a symbolic link.
    /// </summary>
    /// <param name="directory">The checkpoint directory.</param>
    /// <exception cref="LstmException">A check fails; the message names the file.</exception>
    public static void Verify(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var manifest = ReadManifest(directory);
        string manifestPath = Path.Combine(directory, RunFiles.Manifest);
        foreach (string required in new[] { RunFiles.Weights, RunFiles.OptimizerState, RunFiles.TrainerState })
        {
            if (!manifest.Files.ContainsKey(required))
                throw new LstmException($"{manifestPath}: does not list {required}; the checkpoint is not complete");
        }

        foreach (string entry in Directory.EnumerateFileSystemEntries(directory))
        {
            if (PathKinds.Of(entry) == PathKind.SymbolicLink)
                throw new LstmException($"{entry}: a symbolic link in a checkpoint; a checkpoint holds only the files it wrote");
        }

        foreach (var (name, expected) in manifest.Files)
        {
            if (name.Length == 0 || name != Path.GetFileName(name) || name is "." or "..")
                throw new LstmException($"{manifestPath}: '{name}' is not a file name of the checkpoint");
            string path = Path.Combine(directory, name);
            var kind = PathKinds.Of(path);
            if (kind != PathKind.File)
                throw new LstmException($"{path}: the checkpoint's manifest lists it, but it is {(kind == PathKind.Absent ? "missing" : PathKinds.Describe(kind))}");
            string actual = Sha256(path);
            if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
                throw new LstmException($"{path}: damaged: its SHA-256 is {actual}, but the checkpoint's manifest recorded {expected} (a changed or flipped bit); the checkpoint cannot be used as it is");
        }

        var state = ReadState(directory);
        if (state.Step != manifest.Step)
            throw new LstmException($"{manifestPath}: records step {manifest.Step}, but {RunFiles.TrainerState} holds step {state.Step}");
    }

    /// <summary>Reads a checkpoint's manifest.</summary>
    /// <param name="directory">The checkpoint directory.</param>
    /// <exception cref="LstmException">It is missing or not a manifest.</exception>
    public static CheckpointManifest ReadManifest(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string path = Path.Combine(directory, RunFiles.Manifest);
        if (PathKinds.Of(path) != PathKind.File)
            throw new LstmException($"{path}: missing; a checkpoint writes it last, so the checkpoint is not complete");
        try
        {
            var manifest = JsonSerializer.Deserialize(File.ReadAllText(path), TrainerJson.Default.CheckpointManifest)
                ?? throw new LstmException($"{path}: the manifest is null");
            if (manifest.Format != 1)
                throw new LstmException($"{path}: manifest format {manifest.Format} is not supported (expected 1)");
            if (manifest.Files is null)
                throw new LstmException($"{path}: the manifest lists no files");
            return manifest;
        }
        catch (JsonException e)
        {
            throw new LstmException($"{path}: not a checkpoint manifest (damaged?): {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LstmException($"{path}: cannot read: {e.Message}", e);
        }
    }

    /// <summary>Writes the manifest of a filled checkpoint directory: every file's SHA-256, then flushed to disk.</summary>
    private static void WriteManifest(string directory, long step)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (string file in Directory.GetFiles(directory))
        {
            string name = Path.GetFileName(file);
            if (name != RunFiles.Manifest)
                files[name] = Sha256(file);
        }

        string path = Path.Combine(directory, RunFiles.Manifest);
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        JsonSerializer.Serialize(stream, new CheckpointManifest(1, step, files), TrainerJson.Default.CheckpointManifest);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>The step a directory's manifest records, or null when it has none (or not a readable one).</summary>
    private static long? ReadManifestStep(string directory)
    {
        try
        {
            return ReadManifest(directory).Step;
        }
        catch (LstmException)
        {
            return null;
        }
    }

    private sealed record Candidate(string Path, long Step, bool Named);

    /// <summary>NAME and its leftovers that hold a manifest, newest first (NAME first among equals).</summary>
    private static List<Candidate> Candidates(string parent, string name)
    {
        var all = new List<Candidate>();
        string full = Path.Combine(parent, name);
        if (PathKinds.Of(full) == PathKind.Directory && ReadManifestStep(full) is { } step)
            all.Add(new Candidate(full, step, Named: true));
        foreach (var d in Leftovers(parent, name))
        {
            if (ReadManifestStep(d.FullName) is { } s)
                all.Add(new Candidate(d.FullName, s, Named: false));
        }

        return all.OrderByDescending(c => c.Step).ThenByDescending(c => c.Named).ThenBy(c => c.Path, StringComparer.Ordinal).ToList();
    }

    /// <summary>The <c>.NAME.tmp-*</c> and <c>.NAME.old-*</c> directories beside NAME (not links).</summary>
    private static List<DirectoryInfo> Leftovers(string parent, string name)
    {
        if (!Directory.Exists(parent))
            return [];
        return new DirectoryInfo(parent).GetDirectories($".{name}.*")
            .Where(d => (d.Name.StartsWith($".{name}{TempMark}", StringComparison.Ordinal) || d.Name.StartsWith($".{name}{AsideMark}", StringComparison.Ordinal))
                && PathKinds.Of(d.FullName) == PathKind.Directory)
            .OrderBy(d => d.Name, StringComparer.Ordinal)
            .ToList();
    }

    private static void CheckNotLink(string full, string directory)
    {
        var kind = PathKinds.Of(full);
        if (kind is not (PathKind.Absent or PathKind.Directory))
            throw new LstmException($"{directory}: is {PathKinds.Describe(kind)}, not a checkpoint folder; a run folder holds only the folders it wrote");
    }

    private static string Sha256(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LstmException($"{path}: cannot read: {e.Message}", e);
        }
    }
}

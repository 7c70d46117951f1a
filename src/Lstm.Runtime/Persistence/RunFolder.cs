using System.Globalization;
using Lstm.Runtime.Data;

namespace Lstm.Runtime.Persistence;

/// <summary>
/// A training run's folder: <c>command.txt</c> (the command line that made it), <c>config.json</c>
/// (model, data and training settings), <c>metrics.jsonl</c> (one record per step),
/// <c>loss.png</c>, <c>model/</c> (the model's config and data files, a copy of the settings, and
/// once training has ended the weights) and the checkpoints <c>last/</c> and <c>best/</c>. Every
/// file is written atomically.
/// </summary>
/// <remarks>
/// A folder opened to train in (<see cref="Create"/>, <see cref="OpenForTraining"/>) is owned by
/// this process alone until it is disposed: it holds <see cref="RunFolderLock"/>, and a second
/// process is refused before it changes anything. Nothing in it may be a symbolic link: a run
/// writes only into the files and folders it made itself.
/// </remarks>
public sealed class RunFolder : IDisposable
{
    private readonly string? _createdTop;
    private RunFolderLock? _lock;

    private RunFolder(string path, RunFolderLock? held = null, string? createdTop = null)
    {
        Path = path;
        _lock = held;
        _createdTop = createdTop;
    }

    /// <summary>The folder.</summary>
    public string Path { get; }

    /// <summary>The default folder of a new run: <c>runs/&lt;name&gt;-&lt;yyyyMMdd-HHmmss&gt;</c> under the current directory.</summary>
    /// <param name="name">The task or data file's name.</param>
    /// <param name="now">The time stamp.</param>
    public static string DefaultPath(string name, DateTime now)
    {
        ArgumentNullException.ThrowIfNull(name);
        var safe = new string(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray());
        return System.IO.Path.Combine("runs", $"{(safe.Length == 0 ? "run" : safe)}-{now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}");
    }

    /// <summary>
    /// Throws unless a new run can be made at <paramref name="path"/>: absent, or a folder (not a
    /// link to one) that is empty but for what a run stopped before writing its settings left
    /// (its lock file, <c>command.txt</c>, temporary files); creates nothing.
    /// </summary>
    /// <param name="path">The folder.</param>
    public static void CheckNew(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var kind = PathKinds.Of(path);
        switch (kind)
        {
            case PathKind.Absent:
                return;
            case PathKind.File:
                throw new LstmException($"--out {path}: is a file");
            case PathKind.Directory:
                break;
            default:
                throw new LstmException($"--out {path}: is {PathKinds.Describe(kind)}; name a new folder (a run writes only into a folder it made, not through a link)");
        }

        var entries = Directory.EnumerateFileSystemEntries(path).Select(System.IO.Path.GetFileName).Where(n => !IsStartLeftover(n!)).ToList();
        if (entries.Count > 0)
            throw new LstmException($"--out {path}: the folder exists and is not empty (resume a run with --resume {path})");
    }

    /// <summary>
    /// What a new run stopped before it wrote <c>config.json</c> can have left, and a new run in
    /// the same folder replaces: the lock file, <c>command.txt</c>, and temporary files of atomic writes.
    /// </summary>
    private static bool IsStartLeftover(string name) =>
        name is RunFiles.Lock or RunFiles.Command || (name.StartsWith('.') && name.Contains(".tmp-", StringComparison.Ordinal));

    /// <summary>
    /// Creates the folder of a new run (see <see cref="CheckNew"/>) and takes its lock; the folder
    /// is checked again once locked, so that of two runs started on it together one is refused
    /// before it writes anything.
    /// </summary>
    /// <param name="path">The folder.</param>
    /// <exception cref="LstmException">The folder cannot be a new run's, or another process holds it.</exception>
    public static RunFolder Create(string path)
    {
        CheckNew(path);
        string full = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(path));
        string? top = null;
        for (string? d = full; d is not null && PathKinds.Of(d) == PathKind.Absent; d = System.IO.Path.GetDirectoryName(d))
            top = d;
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LstmException($"--out {path}: cannot create the folder: {e.Message}", e);
        }

        // If another process made the folder in the meantime, it holds the lock or has written into it.
        var held = RunFolderLock.Acquire(path, "--out");
        try
        {
            CheckNew(path);
            foreach (string leftover in Directory.GetFiles(path, ".*.tmp-*"))
                File.Delete(leftover);
        }
        catch (LstmException)
        {
            // The folder is another run's now: leave it as that run left it.
            if (held.CreatedFile)
                held.Dispose();
            else
                held.Abandon();
            throw;
        }

        return new RunFolder(path, held, top);
    }

    /// <summary>Opens an existing run's folder to read it (it must hold a <c>config.json</c>); takes no lock.</summary>
    /// <param name="path">The folder.</param>
    /// <param name="option">The option that named it, for messages.</param>
    public static RunFolder Open(string path, string option = "--run")
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!Directory.Exists(path))
            throw new LstmException($"{option} {path}: no such folder");
        if (!File.Exists(System.IO.Path.Combine(path, RunFiles.RunConfig)))
            throw new LstmException($"{option} {path}: not a run folder (no {RunFiles.RunConfig})");
        return new RunFolder(path);
    }

    /// <summary>
    /// Opens an existing run's folder to train in it (<c>--resume</c>): takes its lock, then checks
    /// that it holds a <c>config.json</c> and that none of its files and folders is a symbolic link
    /// or other than a file or folder where one is expected (<see cref="CheckEntries"/>), and removes
    /// the temporary files of atomic writes a killed run left in it.
    /// </summary>
    /// <param name="path">The folder.</param>
    /// <param name="option">The option that named it, for messages.</param>
    /// <exception cref="LstmException">Another process holds the folder, or it is not a run folder this run can write in; nothing is changed.</exception>
    public static RunFolder OpenForTraining(string path, string option = "--resume")
    {
        ArgumentNullException.ThrowIfNull(path);
        var kind = PathKinds.Of(path);
        if (kind == PathKind.Absent)
            throw new LstmException($"{option} {path}: no such folder");
        if (kind != PathKind.Directory)
            throw new LstmException($"{option} {path}: is {PathKinds.Describe(kind)}, not a run folder{(kind == PathKind.SymbolicLink ? " (name the folder itself)" : "")}");
        var held = RunFolderLock.Acquire(path, option);
        var folder = new RunFolder(path, held);
        try
        {
            if (PathKinds.Of(folder[RunFiles.RunConfig]) == PathKind.Absent)
            {
                bool started = Directory.EnumerateFileSystemEntries(path).Select(System.IO.Path.GetFileName).All(n => n is RunFiles.Lock or RunFiles.Command || n!.StartsWith('.'));
                throw new LstmException(started
                    ? $"{option} {path}: not a run folder (no {RunFiles.RunConfig}): the run was stopped before it wrote its settings; start it again with --out {path}"
                    : $"{option} {path}: not a run folder (no {RunFiles.RunConfig})");
            }

            folder.CheckEntries(option);

            // Temporary files of atomic writes (metrics, plot, settings) that a killed process left:
            // the lock is held, so no other process is writing them; the files they were to
            // replace are whole.
            foreach (string leftover in Directory.GetFiles(path, ".*.tmp-*"))
                File.Delete(leftover);
            return folder;
        }
        catch
        {
            if (held.CreatedFile)
                held.Dispose();
            else
                held.Abandon();
            throw;
        }
    }

    /// <summary>
    /// Throws unless the run's files are regular files and its folders (<c>model/</c>, the
    /// checkpoints and what interrupted checkpoint writes left) real folders holding no symbolic
    /// link, where present: a run must not write into, or copy from, a place outside its folder.
    /// </summary>
    /// <param name="option">The option that named the folder, for messages.</param>
    public void CheckEntries(string option = "--resume")
    {
        foreach (string name in new[] { RunFiles.Command, RunFiles.RunConfig, RunFiles.Metrics, RunFiles.Plot })
            Expect(this[name], PathKind.File, option);
        var folders = new List<string> { this[RunFiles.ModelDirectory], this[RunFiles.LastCheckpoint], this[RunFiles.BestCheckpoint] };
        foreach (string entry in Directory.EnumerateFileSystemEntries(Path))
        {
            string name = System.IO.Path.GetFileName(entry);
            if (name.StartsWith($".{RunFiles.LastCheckpoint}.", StringComparison.Ordinal) || name.StartsWith($".{RunFiles.BestCheckpoint}.", StringComparison.Ordinal))
                folders.Add(entry);
        }

        foreach (string folder in folders)
        {
            if (Expect(folder, PathKind.Directory, option) == PathKind.Absent)
                continue;
            foreach (string entry in Directory.EnumerateFileSystemEntries(folder))
            {
                if (PathKinds.Of(entry) == PathKind.SymbolicLink)
                    throw Linked(entry, option);
            }
        }
    }

    private static PathKind Expect(string path, PathKind expected, string option)
    {
        var kind = PathKinds.Of(path);
        if (kind == PathKind.SymbolicLink)
            throw Linked(path, option);
        if (kind != PathKind.Absent && kind != expected)
            throw new LstmException($"{option}: {path} is {PathKinds.Describe(kind)}, where the run keeps {PathKinds.Describe(expected)}");
        return kind;
    }

    private static LstmException Linked(string path, string option) =>
        new($"{option}: {path} is a symbolic link; a run writes into and copies from only the files and folders it made itself, so it will not follow one. Replace the link with what it points to");

    /// <summary>A file or folder of the run.</summary>
    /// <param name="name">Its name.</param>
    public string this[string name] => System.IO.Path.Combine(Path, name);

    /// <summary>
    /// The folder to use the trained model from: <c>model/</c> once training has ended, else the
    /// <c>best/</c> checkpoint, else <c>last/</c> (a checkpoint's files checked against its manifest).
    /// </summary>
    public string TrainedModel()
    {
        foreach (var name in new[] { RunFiles.ModelDirectory, RunFiles.BestCheckpoint, RunFiles.LastCheckpoint })
        {
            if (!File.Exists(System.IO.Path.Combine(this[name], RunFiles.Weights)))
                continue;
            if (name != RunFiles.ModelDirectory)
                TrainingCheckpoint.Verify(this[name]);
            return this[name];
        }

        throw new LstmException($"{Path}: no trained weights yet ({RunFiles.ModelDirectory}/, {RunFiles.BestCheckpoint}/ and {RunFiles.LastCheckpoint}/ hold no {RunFiles.Weights})");
    }

    /// <summary>Whether a checkpoint (<c>last/</c> or <c>best/</c>) has been written.</summary>
    public bool HasCheckpoint => Directory.Exists(this[RunFiles.LastCheckpoint]) || Directory.Exists(this[RunFiles.BestCheckpoint]);

    /// <summary>
    /// Undoes a new run (bad settings found before its first checkpoint): deletes what this
    /// process wrote in the folder (all of it but the lock: the folder was empty when it was
    /// locked), gives the lock back, then removes the folder and the folders above it that
    /// <see cref="Create"/> made, each only if empty. Never deletes a folder it did not make.
    /// </summary>
    public void Discard()
    {
        if (_lock is null)
            throw new InvalidOperationException("only a new run's folder, created and locked by this process, can be discarded");
        foreach (string entry in Directory.EnumerateFileSystemEntries(Path).ToList())
        {
            if (System.IO.Path.GetFileName(entry) == RunFiles.Lock)
                continue;
            if (PathKinds.Of(entry) == PathKind.Directory)
                Directory.Delete(entry, recursive: true);
            else
                File.Delete(entry);
        }

        Dispose();
        if (_createdTop is null)
            return;
        for (string? d = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(Path)); d is not null; d = System.IO.Path.GetDirectoryName(d))
        {
            try
            {
                Directory.Delete(d);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                break; // Not empty: someone else's now.
            }

            if (d == _createdTop)
                break;
        }
    }

    /// <summary>Gives the folder's lock back (and removes the lock file), if this process holds it.</summary>
    public void Dispose()
    {
        _lock?.Dispose();
        _lock = null;
    }

    /// <summary>
    /// Creates <c>model/</c> (or writes it again) with the model's <c>config.json</c>, the data
    /// files (statistics, vocabulary) and a copy of the run's settings (<c>run_config.json</c>);
    /// returns those files, which every checkpoint copies.
    /// </summary>
    /// <param name="model">The architecture.</param>
    /// <param name="data">The prepared data.</param>
    /// <param name="config">The run's settings.</param>
    public IReadOnlyList<string> CreateModelDirectory(Nn.ModelConfig model, PreparedData data, RunConfig config)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(config);
        string modelDir = this[RunFiles.ModelDirectory];
        Expect(modelDir, PathKind.Directory, "--out");
        Directory.CreateDirectory(modelDir);
        string modelConfig = System.IO.Path.Combine(modelDir, RunFiles.ModelConfig);
        AtomicFile.WriteAllText(modelConfig, model.ToJson());
        var files = new List<string> { modelConfig };
        files.AddRange(DataArtifacts.Save(data, modelDir));
        string copy = System.IO.Path.Combine(modelDir, RunFiles.RunConfigCopy);
        AtomicFile.WriteAllText(copy, config.ToJson());
        files.Add(copy);
        return files.Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>The files of <c>model/</c> that every checkpoint copies (its config and data files, not its weights), in name order.</summary>
    public IReadOnlyList<string> ModelDirectoryFiles()
    {
        string modelDir = this[RunFiles.ModelDirectory];
        return Directory.Exists(modelDir)
            ? Directory.GetFiles(modelDir).Where(f => !TrainingCheckpoint.ReservedNames.Contains(System.IO.Path.GetFileName(f)) && !System.IO.Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal).ToList()
            : [];
    }

    /// <summary>
    /// Once training has ended: copies the best checkpoint's weights (else the last one's) into
    /// <c>model/</c>; returns the checkpoint's name (<c>best</c> or <c>last</c>).
    /// </summary>
    public string PublishModel()
    {
        string best = System.IO.Path.Combine(this[RunFiles.BestCheckpoint], RunFiles.Weights);
        string chosen = File.Exists(best) ? RunFiles.BestCheckpoint : RunFiles.LastCheckpoint;
        string source = System.IO.Path.Combine(this[chosen], RunFiles.Weights);
        AtomicFile.Write(System.IO.Path.Combine(this[RunFiles.ModelDirectory], RunFiles.Weights), temp => File.Copy(source, temp));
        return chosen;
    }

    /// <summary>Writes a text file of the run atomically.</summary>
    /// <param name="name">The file's name.</param>
    /// <param name="text">Its content.</param>
    public void WriteText(string name, string text) => AtomicFile.WriteAllText(this[name], text);

    /// <summary>Writes <c>config.json</c>, and its copy in <c>model/</c> once that exists.</summary>
    /// <param name="config">The settings.</param>
    public void WriteConfig(RunConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        WriteText(RunFiles.RunConfig, config.ToJson());
        if (Directory.Exists(this[RunFiles.ModelDirectory]))
            AtomicFile.WriteAllText(System.IO.Path.Combine(this[RunFiles.ModelDirectory], RunFiles.RunConfigCopy), config.ToJson());
    }

    /// <summary>Reads <c>config.json</c>.</summary>
    public RunConfig ReadConfig() => RunConfig.Load(this[RunFiles.RunConfig]);
}

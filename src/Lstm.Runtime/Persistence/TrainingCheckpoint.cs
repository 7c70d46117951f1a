using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Lstm.Runtime.Data;

namespace Lstm.Runtime.Persistence;

/// <summary>
/// What <c>trainer.json</c> holds: everything besides the weights and the optimizer's state that
/// a <c>Trainer</c> needs to continue exactly where it stopped.
/// </summary>
/// <param name="Format">The file's format version (1).</param>
/// <param name="Step">Steps done.</param>
/// <param name="TotalSteps">Steps the run was set to do.</param>
/// <param name="DType">float32 or float64.</param>
/// <param name="Seed">The seed of the batch order and the dropout masks.</param>
/// <param name="BatchSize">B.</param>
/// <param name="TrainSamples">Samples in the training set.</param>
/// <param name="TrainPosition">Where the training loader's next batch starts.</param>
/// <param name="NextDropoutSeed">The dropout seed of the next step (derived from the seed and the step).</param>
/// <param name="BestValidationLoss">The best validation loss so far, or null.</param>
/// <param name="BestStep">Its step (0 when none).</param>
/// <param name="ValidationsWithoutImprovement">Validations since the best one (the early-stopping counter).</param>
/// <param name="StoppedEarly">Whether early stopping ended the run.</param>
/// <param name="Optimizer">The optimizer's kind (sgd, adam, adamw).</param>
/// <param name="LearningRate">The rate of the last update.</param>
/// <param name="TrainLoss">The last step's batch loss, or null before the first step.</param>
/// <param name="ValidationLoss">The last validation loss, or null.</param>
/// <param name="ExtraFiles">Names of the caller's files copied beside the state.</param>
public sealed record TrainerState(
    int Format, long Step, long TotalSteps, string DType, int Seed, int BatchSize, int TrainSamples,
    DataPosition TrainPosition, ulong NextDropoutSeed, double? BestValidationLoss, long BestStep,
    int ValidationsWithoutImprovement, bool StoppedEarly, string Optimizer, double LearningRate,
    double? TrainLoss, double? ValidationLoss, IReadOnlyList<string> ExtraFiles);

/// <summary>
/// A training checkpoint directory: <c>model.safetensors</c> (the weights under their
/// state-dict names), <c>optimizer.safetensors</c> (<c>Optimizer.StateToFile</c>),
/// <c>trainer.json</c> (<see cref="TrainerState"/>), the caller's extra files and, written last,
/// <c>manifest.json</c>: the step and the SHA-256 of every other file.
/// </summary>
/// <remarks>
/// The manifest is the commit point. Everything goes into a hidden sibling <c>.NAME.tmp-*</c>,
/// each file flushed to disk, the manifest last; from then on that directory is the newest
/// checkpoint, wherever it lies. The old NAME is then renamed aside to <c>.NAME.old-*</c>, the new
/// one renamed into place and the old one deleted. A crash at any point leaves the newest
/// committed checkpoint under NAME, <c>.NAME.tmp-*</c> or <c>.NAME.old-*</c>: <see cref="Locate"/>
/// finds it (the highest step among the directories with a manifest) and <see cref="Recover"/>
/// puts it back under NAME and removes the rest. Reading a checkpoint checks every file against
/// its manifest, so a damaged file is named rather than loaded.
/// </remarks>
public static partial class TrainingCheckpoint
{
    /// <summary>File names a checkpoint writes itself (extra files may not use them).</summary>
    public static readonly IReadOnlySet<string> ReservedNames = new HashSet<string>(StringComparer.Ordinal)
    {
        RunFiles.Weights, RunFiles.OptimizerState, RunFiles.TrainerState, RunFiles.Manifest,
    };

    /// <summary>
    /// Writes a checkpoint directory atomically: the weights, the optimizer's state, copies of
    /// <paramref name="extraFiles"/>, the trainer state and the manifest, in that order, into a
    /// temporary directory that then replaces <paramref name="directory"/> (see the remarks on
    /// <see cref="TrainingCheckpoint"/>).
    /// </summary>
    /// <param name="directory">The checkpoint directory (created with its parents; replaced whole).</param>
    /// <param name="weights">The parameters under their state-dict names.</param>
    /// <param name="optimizer">The optimizer's state.</param>
    /// <param name="extraFiles">Files copied in under their own names.</param>
    /// <param name="state">The trainer state.</param>
    /// <param name="written">Called with each file's name once it is written (a test hook for failures part-way).</param>
    /// <exception cref="LstmException">Writing failed; the previous checkpoint, if any, is left as it was and no temporary directory remains.</exception>
    public static void Write(string directory, SafeTensorsFile weights, SafeTensorsFile optimizer, IEnumerable<string> extraFiles, TrainerState state, Action<string>? written = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(extraFiles);
        ArgumentNullException.ThrowIfNull(state);
        var (full, parent, name) = Split(directory);
        var kind = PathKinds.Of(full);
        if (kind is not (PathKind.Absent or PathKind.Directory))
            throw new LstmException($"{directory}: checkpoint not written: it is {PathKinds.Describe(kind)}, not a folder this run wrote");
        string tag = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        string temp = Path.Combine(parent, $".{name}.tmp-{tag}");
        string old = Path.Combine(parent, $".{name}.old-{tag}");
        try
        {
            Directory.CreateDirectory(parent);
            RemoveStale(parent, name);
            Directory.CreateDirectory(temp);
            weights.Write(Path.Combine(temp, RunFiles.Weights));
            written?.Invoke(RunFiles.Weights);
            optimizer.Write(Path.Combine(temp, RunFiles.OptimizerState));
            written?.Invoke(RunFiles.OptimizerState);
            foreach (string file in extraFiles)
            {
                string fileName = Path.GetFileName(file);
                CopyDurably(file, Path.Combine(temp, fileName));
                written?.Invoke(fileName);
            }

            WriteState(Path.Combine(temp, RunFiles.TrainerState), state);
            written?.Invoke(RunFiles.TrainerState);
            WriteManifest(temp, state.Step);
            written?.Invoke(RunFiles.Manifest);

            // Committed: the directory is complete. What follows only moves it into place.
            bool replacing = Directory.Exists(full);
            if (replacing)
                Directory.Move(full, old);
            try
            {
                Directory.Move(temp, full);
            }
            catch
            {
                if (replacing)
                    Directory.Move(old, full);
                throw;
            }

            // NAME is complete again: what earlier crashes left aside is no longer needed.
            foreach (var d in new DirectoryInfo(parent).GetDirectories($".{name}.old-*"))
                TryDelete(d.FullName);
        }
        catch (Exception e)
        {
            TryDelete(temp);
            if (e is LstmException or IOException or UnauthorizedAccessException or NotSupportedException or System.Security.SecurityException)
                throw new LstmException($"{directory}: checkpoint not written, the previous one is kept: {e.Message}", e);
            throw;
        }
    }

    /// <summary>The weights of a checkpoint directory.</summary>
    /// <param name="directory">The checkpoint directory (as <see cref="Locate"/> returns it).</param>
    public static SafeTensorsFile ReadWeights(string directory) => SafeTensorsFile.Read(Path.Combine(directory, RunFiles.Weights));

    /// <summary>The optimizer state of a checkpoint directory.</summary>
    /// <param name="directory">The checkpoint directory (as <see cref="Locate"/> returns it).</param>
    public static SafeTensorsFile ReadOptimizerState(string directory) => SafeTensorsFile.Read(Path.Combine(directory, RunFiles.OptimizerState));

    /// <summary>
    /// The weights of the <c>best/</c> checkpoint beside <paramref name="directory"/>, when it is
    /// that of <paramref name="step"/> (its files checked against its manifest); else null.
    /// </summary>
    /// <param name="directory">A checkpoint directory (e.g. <c>runs/x/last</c>).</param>
    /// <param name="step">The best step the trainer state records.</param>
    /// <exception cref="LstmException"><c>best/</c> is that step's but a file of it is damaged.</exception>
    public static SafeTensorsFile? ReadBestWeights(string directory, long step)
    {
        if (Path.GetDirectoryName(directory) is not { } root)
            return null;
        string best = Path.Combine(root, RunFiles.BestCheckpoint);
        if (PathKinds.Of(best) != PathKind.Directory || ReadManifestStep(best) != step)
            return null;
        Verify(best);
        return ReadWeights(best);
    }

    /// <summary>
    /// Deletes a checkpoint directory, its manifest first, so that a deletion cut short leaves no
    /// complete-looking checkpoint behind.
    /// </summary>
    /// <param name="directory">The checkpoint directory.</param>
    /// <exception cref="LstmException">It cannot be deleted.</exception>
    public static void Remove(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        try
        {
            if (!Directory.Exists(directory))
                return;
            File.Delete(Path.Combine(directory, RunFiles.Manifest));
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LstmException($"{directory}: cannot remove the checkpoint: {e.Message}", e);
        }
    }

    /// <summary>Writes the trainer state as JSON, flushed to disk.</summary>
    /// <param name="path">The file.</param>
    /// <param name="state">The state.</param>
    public static void WriteState(string path, TrainerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        JsonSerializer.Serialize(stream, state, TrainerJson.Default.TrainerState);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Reads the trainer state of a checkpoint directory.</summary>
    /// <param name="directory">The checkpoint directory.</param>
    /// <exception cref="LstmException">The file is missing or not a trainer state.</exception>
    public static TrainerState ReadState(string directory)
    {
        string path = Path.Combine(directory, RunFiles.TrainerState);
        if (!File.Exists(path))
            throw new LstmException($"{path}: the checkpoint has no trainer state");
        try
        {
            var state = JsonSerializer.Deserialize(File.ReadAllText(path), TrainerJson.Default.TrainerState)
                ?? throw new LstmException($"{path}: the trainer state is null");
            if (state.Format != 1)
                throw new LstmException($"{path}: trainer state format {state.Format} is not supported (expected 1)");
            if (state.TrainPosition is null || state.DType is null || state.Optimizer is null)
                throw new LstmException($"{path}: the trainer state lacks train_position, d_type or optimizer");
            return state;
        }
        catch (JsonException e)
        {
            throw new LstmException($"{path}: not a trainer state: {e.Message}", e);
        }
    }

    /// <summary>Copies an extra file into a checkpoint, flushed to disk.</summary>
    private static void CopyDurably(string source, string target)
    {
        try
        {
            using var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read);
            using var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            input.CopyTo(output);
            output.Flush(flushToDisk: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LstmException($"extra file '{source}' could not be copied: {e.Message}", e);
        }
    }

    private static (string Full, string Parent, string Name) Split(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (directory.Length == 0)
            throw new LstmException("checkpoint: the directory is an empty path");
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        string? parent = Path.GetDirectoryName(full);
        string name = Path.GetFileName(full);
        if (parent is null || name.Length == 0)
            throw new LstmException($"{directory}: a checkpoint cannot be a file-system root");
        return (full, parent, name);
    }

    /// <summary>Deletes the temporary directories that earlier interrupted writes of NAME left.</summary>
    private static void RemoveStale(string parent, string name)
    {
        foreach (var d in new DirectoryInfo(parent).GetDirectories($".{name}.tmp-*"))
            TryDelete(d.FullName);
    }

    /// <summary>
    /// Deletes a checkpoint directory, its manifest first: should the deletion be cut short, what
    /// remains is no longer a complete checkpoint, so recovery never picks a half-deleted one.
    /// </summary>
    private static void TryDelete(string directory)
    {
        try
        {
            if (!Directory.Exists(directory))
                return;
            File.Delete(Path.Combine(directory, RunFiles.Manifest));
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the next write's clean-up; the failure being reported matters more.
        }
    }
}

/// <summary>Source-generated JSON for <c>trainer.json</c>.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(TrainerState))]
[JsonSerializable(typeof(CheckpointManifest))]
internal sealed partial class TrainerJson : JsonSerializerContext
{
}

using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Persistence;

namespace Lstm.Runtime.Training;

/// <summary>Where a resumed run continues: its folder and device, <c>last/</c>, its metrics and the recovery notes.</summary>
/// <param name="Folder">The run folder, held for training.</param>
/// <param name="Device">The device.</param>
/// <param name="Checkpoint"><c>last/</c>, or null where none was written.</param>
/// <param name="Metrics">The metrics log, cut back to the checkpoint's step.</param>
/// <param name="Notes">What recovering the checkpoints and the metrics did.</param>
internal sealed record ResumePoint(RunFolder Folder, ComputeDevice Device, string? Checkpoint, MetricsLog Metrics, IReadOnlyList<string> Notes);

/// <summary>
/// The plumbing that a run with its own <c>config.json</c> kind (a classifier or labeller, an
/// encoder-decoder) shares, written once: recognizing and reading the run file, making the
/// folder with its files (discarded when anything fails before a checkpoint), reopening it to
/// resume, and the training loop between the observer, the checkpoints and the trainer.
/// </summary>
internal static class RunSkeleton
{
    /// <summary>Whether <paramref name="folder"/>'s <c>config.json</c> names <paramref name="kind"/>.</summary>
    /// <param name="folder">A run folder.</param>
    /// <param name="kind">The run kind.</param>
    public static bool HasKind(string folder, string kind)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string path = Path.Combine(folder, RunFiles.RunConfig);
        if (!File.Exists(path))
            return false;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("kind", out var k) && k.ValueKind == JsonValueKind.String && k.GetString() == kind;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The settings recorded in a run's <c>config.json</c>.</summary>
    /// <param name="folder">The run folder.</param>
    /// <param name="info">The run file's source-generated JSON.</param>
    /// <param name="settingsOf">The settings from the run file (and the file's path, for messages).</param>
    /// <param name="what">The run, for messages ("a classification run").</param>
    public static TSettings ReadSettings<TFile, TSettings>(string folder, JsonTypeInfo<TFile> info, Func<TFile, string, TSettings> settingsOf, string what)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string path = Path.Combine(folder, RunFiles.RunConfig);
        try
        {
            var file = JsonSerializer.Deserialize(File.ReadAllText(path), info) ?? throw new LstmException($"{path}: empty");
            return settingsOf(file, path);
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            throw new LstmException($"{path}: not {what}'s settings: {e.Message}", e);
        }
    }

    /// <summary>
    /// Makes a new run folder: <c>command.txt</c>, <c>config.json</c>, empty logs, and <c>model/</c>
    /// with the model's configuration, the data's description and a copy of <c>config.json</c>;
    /// then trains. The folder is discarded when anything fails before a checkpoint is written.
    /// </summary>
    /// <param name="path">The new folder.</param>
    /// <param name="device">The device name.</param>
    /// <param name="commandLine">Recorded as <c>command.txt</c>.</param>
    /// <param name="runConfig"><c>config.json</c>.</param>
    /// <param name="modelJson">The model's configuration.</param>
    /// <param name="descriptionFile">The data description's name in <c>model/</c>.</param>
    /// <param name="descriptionJson">The data description.</param>
    /// <param name="logs">The run's logs, made empty (<c>metrics.jsonl</c> and any of the run's own).</param>
    /// <param name="train">Trains in the folder on the device, given <c>model/</c>'s files (the trainer's extra files).</param>
    public static TResult Start<TResult>(
        string path, string device, string commandLine, string runConfig, string modelJson, string descriptionFile, string descriptionJson,
        IReadOnlyList<string> logs, Func<RunFolder, ComputeDevice, IReadOnlyList<string>, TResult> train)
    {
        RunFolder.CheckNew(path);
        using var dev = ComputeDevice.Open(device);
        using var folder = RunFolder.Create(path);
        try
        {
            folder.WriteText(RunFiles.Command, commandLine + "\n");
            folder.WriteText(RunFiles.RunConfig, runConfig);
            foreach (string log in logs)
                folder.WriteText(log, "");
            Directory.CreateDirectory(folder[RunFiles.ModelDirectory]);
            var modelFiles = new List<string>();
            foreach (var (name, text) in new[] { (RunFiles.ModelConfig, modelJson), (descriptionFile, descriptionJson), (RunFiles.RunConfigCopy, runConfig) })
            {
                string file = Path.Combine(RunFiles.ModelDirectory, name);
                folder.WriteText(file, text);
                modelFiles.Add(folder[file]);
            }

            return train(folder, dev, modelFiles);
        }
        catch (LstmException) when (!folder.HasCheckpoint)
        {
            folder.Discard();
            throw;
        }
    }

    /// <summary>
    /// Reopens a run to continue it: the folder held for training, its settings, <c>last/</c> and
    /// <c>best/</c> recovered, the data and model prepared, the metrics cut back to <c>last/</c>'s
    /// step, the device opened; then trains.
    /// </summary>
    /// <param name="path">The run folder.</param>
    /// <param name="device">The device name.</param>
    /// <param name="readSettings">The run's recorded settings.</param>
    /// <param name="prepare">The data, model and trainer options from the settings (the folder gives <c>model/</c>'s files).</param>
    /// <param name="train">Trains from the resume point.</param>
    public static TResult Resume<TSettings, TPrepared, TResult>(
        string path, string device, Func<string, TSettings> readSettings, Func<TSettings, RunFolder, TPrepared> prepare, Func<ResumePoint, TPrepared, TResult> train)
    {
        using var folder = RunFolder.OpenForTraining(path, "--resume");
        var settings = readSettings(path);
        var last = TrainingCheckpoint.Recover(folder[RunFiles.LastCheckpoint]);
        var notes = last.Notes.Concat(TrainingCheckpoint.Recover(folder[RunFiles.BestCheckpoint]).Notes).ToList();
        var prepared = prepare(settings, folder);
        var metrics = MetricsLog.Resume(folder[RunFiles.Metrics], last.Step ?? 0);
        notes.AddRange(metrics.ResumeNotes);
        using var dev = ComputeDevice.Open(device);
        return train(new ResumePoint(folder, dev, last.Directory, metrics, notes), prepared);
    }

    /// <summary>
    /// The training loop of a run: shown by the observer, each step recorded and checkpointed by
    /// <see cref="RunCheckpoints"/> (elapsed time continuing the metrics'), the loss plot redrawn,
    /// and the run concluded (<see cref="RunCheckpoints.Conclude"/>).
    /// </summary>
    /// <param name="folder">The run folder.</param>
    /// <param name="trainer">The trainer (its own checkpoints off), resumed where the run resumes.</param>
    /// <param name="metrics">The metrics log.</param>
    /// <param name="training">The trainer's options (checkpoint and validation intervals).</param>
    /// <param name="observer">Shows progress and draws the loss plot.</param>
    /// <param name="start">What the observer shows first.</param>
    /// <param name="title">The loss plot's title.</param>
    /// <param name="wrap">Wraps the checkpoints' progress reporter (null: as it is).</param>
    /// <param name="untilStep">Stop after this step (null: the end).</param>
    /// <param name="cancel">Stops after the next step.</param>
    /// <param name="what">The kind of run, for messages.</param>
    public static TrainingRunResult Loop(
        RunFolder folder, Trainer<float> trainer, MetricsLog metrics, TrainerOptions training, ITrainingObserver observer, TrainingRunStart start, string title,
        Func<Reporter<TrainerProgress>, Reporter<TrainerProgress>>? wrap, long? untilStep, CancellationToken cancel, string what)
    {
        long firstStep = trainer.Step;
        double elapsedBefore = metrics.Records.Count > 0 ? metrics.Records[^1].ElapsedS : 0;
        void Plot() => AtomicFile.Write(folder[RunFiles.Plot], temp => observer.DrawLossPlot(temp, metrics.Records, title));
        long end = Math.Min(untilStep ?? trainer.TotalSteps, trainer.TotalSteps);
        var checkpoints = new RunCheckpoints(folder, metrics, trainer, training.CheckpointEvery, end, Plot);
        TrainerResult? result = null;
        observer.Train(start, report =>
        {
            var progress = checkpoints.Progress(report, elapsedBefore, cancel);
            trainer.Progress = wrap is null ? progress : wrap(progress);
            result = trainer.Run(untilStep, cancel);
        });

        return checkpoints.Conclude(result, firstStep, what);
    }
}

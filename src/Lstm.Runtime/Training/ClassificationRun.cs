using System.Globalization;
using System.Text.Json;
using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Persistence;

namespace Lstm.Runtime.Training;

/// <summary>
/// A sequence-classification or sequence-labelling run in a <see cref="RunFolder"/>: <see cref="ClassificationData"/>,
/// a <see cref="SequenceClassifier{T}"/> (of either kind) on one device, a <see cref="Trainer{T}"/> over
/// length-bucketed batches, and the run folder's files as for any run (<c>command.txt</c>,
/// <c>config.json</c>, <c>metrics.jsonl</c>, <c>loss.png</c>, <c>last/</c>, <c>best/</c>,
/// <c>model/</c> with <c>classifier.json</c>). Everything is checked before the folder is
/// made; <see cref="Resume"/> continues from <c>last/</c> bit for bit.
/// </summary>
public static class ClassificationRun
{
    /// <summary>The <c>kind</c> of a classification run's <c>config.json</c>.</summary>
    public const string RunKind = "sequence-classification";

    /// <summary>Whether <paramref name="folder"/> holds a classification run (its <c>config.json</c> says so).</summary>
    /// <param name="folder">A run folder.</param>
    public static bool IsClassificationRun(string folder) => RunSkeleton.HasKind(folder, RunKind);

    /// <summary>The settings recorded in a classification run's <c>config.json</c>.</summary>
    /// <param name="folder">The run folder.</param>
    public static ClassificationSettings ReadSettings(string folder) =>
        RunSkeleton.ReadSettings(folder, ClassificationJson.Default.ClassificationRunFile, (file, path) => ClassificationSettings.FromJson(file.Settings, path), "a classification run");

    /// <summary>Trains a new classification run.</summary>
    /// <param name="settings">The settings.</param>
    /// <param name="device">The device name (auto, cpu, cuda:N, ...).</param>
    /// <param name="outPath">The run folder, or null for <c>runs/&lt;name&gt;-&lt;time&gt;</c>.</param>
    /// <param name="commandLine">Recorded as <c>command.txt</c>.</param>
    /// <param name="observer">Shows progress and draws the loss plot.</param>
    /// <param name="untilStep">Stop after this step (null: the end).</param>
    /// <param name="cancel">Stops after the next step (<c>last/</c> written first).</param>
    /// <exception cref="LstmException">A setting, file or device is bad (no folder is left behind).</exception>
    public static TrainingRunResult Start(
        ClassificationSettings settings, string device, string? outPath, string commandLine, ITrainingObserver observer, long? untilStep = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(observer);
        settings.Validate();
        var data = ClassificationData.Prepare(settings);
        var model = data.ModelFor(settings);
        var training = TrainerFor(settings, data);
        (training with { CheckpointEvery = 0 }).Validate();
        string name = settings.Task ?? Path.GetFileNameWithoutExtension(settings.Csv!);
        string path = outPath ?? RunFolder.DefaultPath(name, DateTime.Now);
        string config = JsonSerializer.Serialize(
            new ClassificationRunFile { Model = JsonDocument.Parse(model.ToJson()).RootElement, Settings = settings.ToJson() },
            ClassificationJson.Default.ClassificationRunFile);
        return RunSkeleton.Start(
            path, device, commandLine, config, model.ToJson(), ClassifierData.FileName, data.Description.ToJson(), [RunFiles.Metrics],
            (folder, dev, modelFiles) => Train(
                folder, dev, data, model, training with { ExtraFiles = modelFiles }, null, new MetricsLog(folder[RunFiles.Metrics]), [], false, observer, untilStep, cancel));
    }

    /// <summary>Continues a classification run from its <c>last/</c> checkpoint, with its recorded settings.</summary>
    /// <param name="path">The run folder.</param>
    /// <param name="device">The device name.</param>
    /// <param name="observer">Shows progress and draws the loss plot.</param>
    /// <param name="untilStep">Stop after this step (null: the end).</param>
    /// <param name="cancel">Stops after the next step.</param>
    /// <exception cref="LstmException">The folder is not a classification run, another process holds it, or a file is bad.</exception>
    public static TrainingRunResult Resume(string path, string device, ITrainingObserver observer, long? untilStep = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(observer);
        return RunSkeleton.Resume(
            path, device, ReadSettings,
            (settings, folder) =>
            {
                var data = ClassificationData.Prepare(settings);
                return (Data: data, Model: data.ModelFor(settings), Training: TrainerFor(settings, data) with { ExtraFiles = folder.ModelDirectoryFiles() });
            },
            (at, p) => Train(at.Folder, at.Device, p.Data, p.Model, p.Training, at.Checkpoint, at.Metrics, at.Notes, true, observer, untilStep, cancel));
    }

    /// <summary>The trainer's settings: Adam, cross-entropy (balanced class weights if asked; a labeller's per step) or a labeller's CTC, clipping, validation and checkpoints at one interval.</summary>
    private static TrainerOptions TrainerFor(ClassificationSettings s, ClassificationData data) =>
        TrainingLoopSettings.Trainer(s, ClassificationSettings.DefaultSteps, TrainingDefaults.BatchSize, ClassificationSettings.DefaultLearningRate, data.Train.Count) with
        {
            Loss = s.IsLabeller && s.IsCtc ? LossKind.Ctc : LossKind.CrossEntropy,
            ClassWeights = s.ClassWeights == "balanced" ? data.BalancedWeights() : null,
        };

    private static TrainingRunResult Train(
        RunFolder folder, ComputeDevice device, ClassificationData data, ModelConfig config, TrainerOptions training, string? checkpoint,
        MetricsLog metrics, IReadOnlyList<string> recovered, bool resumed, ITrainingObserver observer, long? untilStep, CancellationToken cancel)
    {
        using var model = new SequenceClassifier<float>(device, config, training.Seed);
        using var trainer = new Trainer<float>(model, data.Train, data.Validation, training with { CheckpointEvery = 0, CheckpointDirectory = null });
        if (checkpoint is not null)
            trainer.Resume(checkpoint);
        long parameters = model.NamedParameters().Sum(p => p.Parameter.Value.Length);
        string weights = training.ClassWeights is { } w ? "; class weights " + string.Join(", ", w.Select(v => v.ToString("G3", CultureInfo.InvariantCulture))) : "";
        var start = new TrainingRunStart(
            data.Summary, $"{Describe(config)}, {parameters:N0} parameters, on {device.Name}", TrainingSettings.Describe(training, trainer.TotalSteps) + weights,
            folder.Path, resumed, trainer.Step, trainer.TotalSteps, training.ValidateEvery, recovered);
        string title = $"{ModelConfig.CellName(config.Cell)} {(config.Kind == ModelKind.SequenceLabeller ? "labeller" : "classifier")} {config.HiddenSize}×{config.NumLayers}";
        return RunSkeleton.Loop(folder, trainer, metrics, training, observer, start, title, null, untilStep, cancel, "classification run");
    }

    /// <summary>One line saying what a classifier or labeller is.</summary>
    /// <param name="c">The configuration.</param>
    public static string Describe(ModelConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
        string input = c.ReadsTokens ? $"embedding {c.VocabSize}×{c.EmbeddingDim}" : $"input {c.InputSize}";
        bool labeller = c.Kind == ModelKind.SequenceLabeller;
        return $"{ModelConfig.CellName(c.Cell).ToUpperInvariant()} sequence {(labeller ? "labeller" : "classifier")}: {input}, hidden {c.HiddenSize}, {c.NumLayers} layer{(c.NumLayers == 1 ? "" : "s")}"
            + $"{(c.Bidirectional ? ", bidirectional" : "")}, {(labeller ? "a head on every step" : ModelConfig.PoolName(c.Pool) + " pooling")}, {c.OutputSize} classes";
    }
}

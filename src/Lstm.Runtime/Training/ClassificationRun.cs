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
    public static bool IsClassificationRun(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string path = Path.Combine(folder, RunFiles.RunConfig);
        if (!File.Exists(path))
            return false;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("kind", out var kind) && kind.ValueKind == JsonValueKind.String && kind.GetString() == RunKind;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The settings recorded in a classification run's <c>config.json</c>.</summary>
    /// <param name="folder">The run folder.</param>
    public static ClassificationSettings ReadSettings(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string path = Path.Combine(folder, RunFiles.RunConfig);
        try
        {
            var file = JsonSerializer.Deserialize(File.ReadAllText(path), ClassificationJson.Default.ClassificationRunFile)
                ?? throw new LstmException($"{path}: empty");
            return ClassificationSettings.FromJson(file.Settings, path);
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            throw new LstmException($"{path}: not a classification run's settings: {e.Message}", e);
        }
    }

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
        RunFolder.CheckNew(path);
        using var dev = ComputeDevice.Open(device);
        using var folder = RunFolder.Create(path);
        try
        {
            folder.WriteText(RunFiles.Command, commandLine + "\n");
            string config = JsonSerializer.Serialize(
                new ClassificationRunFile { Model = JsonDocument.Parse(model.ToJson()).RootElement, Settings = settings.ToJson() },
                ClassificationJson.Default.ClassificationRunFile);
            folder.WriteText(RunFiles.RunConfig, config);
            folder.WriteText(RunFiles.Metrics, "");
            string modelDir = folder[RunFiles.ModelDirectory];
            Directory.CreateDirectory(modelDir);
            var extra = new List<string>
            {
                Path.Combine(modelDir, RunFiles.ModelConfig),
                Path.Combine(modelDir, ClassifierData.FileName),
                Path.Combine(modelDir, RunFiles.RunConfigCopy),
            };
            AtomicFile.WriteAllText(extra[0], model.ToJson());
            AtomicFile.WriteAllText(extra[1], data.Description.ToJson());
            AtomicFile.WriteAllText(extra[2], config);
            training = training with { ExtraFiles = extra };
            return Train(folder, dev, data, model, training, null, new MetricsLog(folder[RunFiles.Metrics]), [], false, observer, untilStep, cancel);
        }
        catch (LstmException) when (!folder.HasCheckpoint)
        {
            folder.Discard();
            throw;
        }
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
        using var folder = RunFolder.OpenForTraining(path, "--resume");
        var settings = ReadSettings(path);
        var notes = new List<string>();
        var last = TrainingCheckpoint.Recover(folder[RunFiles.LastCheckpoint]);
        notes.AddRange(last.Notes);
        notes.AddRange(TrainingCheckpoint.Recover(folder[RunFiles.BestCheckpoint]).Notes);
        var data = ClassificationData.Prepare(settings);
        var model = data.ModelFor(settings);
        var training = TrainerFor(settings, data) with { ExtraFiles = folder.ModelDirectoryFiles() };
        var metrics = MetricsLog.Resume(folder[RunFiles.Metrics], last.Step ?? 0);
        notes.AddRange(metrics.ResumeNotes);
        using var dev = ComputeDevice.Open(device);
        return Train(folder, dev, data, model, training, last.Directory, metrics, notes, true, observer, untilStep, cancel);
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
        double elapsedBefore = metrics.Records.Count > 0 ? metrics.Records[^1].ElapsedS : 0;
        long parameters = model.NamedParameters().Sum(p => p.Parameter.Value.Length);
        string weights = training.ClassWeights is { } w ? "; class weights " + string.Join(", ", w.Select(v => v.ToString("G3", CultureInfo.InvariantCulture))) : "";
        long firstStep = trainer.Step;
        var start = new TrainingRunStart(
            data.Summary, $"{Describe(config)}, {parameters:N0} parameters, on {device.Name}", TrainingSettings.Describe(training, trainer.TotalSteps) + weights,
            folder.Path, resumed, firstStep, trainer.TotalSteps, training.ValidateEvery, recovered);
        string title = $"{ModelConfig.CellName(config.Cell)} {(config.Kind == ModelKind.SequenceLabeller ? "labeller" : "classifier")} {config.HiddenSize}×{config.NumLayers}";
        void Plot() => AtomicFile.Write(folder[RunFiles.Plot], temp => observer.DrawLossPlot(temp, metrics.Records, title));
        long end = Math.Min(untilStep ?? trainer.TotalSteps, trainer.TotalSteps);
        var checkpoints = new RunCheckpoints(folder, metrics, trainer, training.CheckpointEvery, end, Plot);
        TrainerResult? result = null;
        observer.Train(start, report =>
        {
            trainer.Progress = checkpoints.Progress(report, elapsedBefore, cancel);
            result = trainer.Run(untilStep, cancel);
        });

        checkpoints.Finish(result);
        if (result?.NonFinite is { } stop)
            throw new LstmException($"{stop.Describe()}: training stopped ({RunFiles.LastCheckpoint}/ holds step {checkpoints.SavedStep}); continue with a lower --lr in a new run");
        bool finished = trainer.Step >= trainer.TotalSteps || trainer.StoppedEarly;
        string? published = finished ? folder.PublishModel() : null;
        var records = metrics.Records;
        return new TrainingRunResult(
            folder.Path, result ?? throw new LstmException("classification run: the observer did not run the training loop"), firstStep, trainer.TotalSteps, finished, published,
            records.Count > 0 ? records[^1].TrainLoss : null, 0, null);
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

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Persistence;

namespace Lstm.Runtime.Training;

/// <summary>How an encoder-decoder run ended: the run's result and its last validation's teacher-forced token accuracy.</summary>
/// <param name="Run">The run's result.</param>
/// <param name="TokenAccuracy">The fraction of validation target tokens (<c>&lt;eos&gt;</c> included) predicted right with teacher forcing at the last validation, or null.</param>
/// <param name="AccuracyStep">The step of that validation.</param>
public sealed record Seq2SeqRunResult(TrainingRunResult Run, double? TokenAccuracy, long AccuracyStep);

/// <summary>
/// An encoder-decoder run in a <see cref="RunFolder"/>: <see cref="Seq2SeqData"/>, a
/// <see cref="Seq2SeqModel{T}"/> trained with teacher forcing by a <see cref="Trainer{T}"/> over
/// length-bucketed batches (Adam, clipping, cross-entropy with the padding weighed 0), and the
/// run folder's files as for any run (<c>command.txt</c>, <c>config.json</c> of kind
/// <c>seq2seq</c>, <c>metrics.jsonl</c>, <c>loss.png</c>, <c>last/</c>, <c>best/</c>,
/// <c>model/</c> with <c>seq2seq.json</c>) and <c>validation.jsonl</c>: each validation's loss and
/// token accuracy. Everything is checked before the folder is made; <see cref="Resume"/>
/// continues from <c>last/</c> bit for bit.
/// </summary>
public static class Seq2SeqRun
{
    /// <summary>The <c>kind</c> of an encoder-decoder run's <c>config.json</c>.</summary>
    public const string RunKind = "seq2seq";

    /// <summary>The file of each validation's loss and token accuracy.</summary>
    public const string ValidationFile = "validation.jsonl";

    /// <summary>Whether <paramref name="folder"/> holds an encoder-decoder run (its <c>config.json</c> says so).</summary>
    /// <param name="folder">A run folder.</param>
    public static bool IsSeq2SeqRun(string folder) => RunSkeleton.HasKind(folder, RunKind);

    /// <summary>The settings recorded in an encoder-decoder run's <c>config.json</c>.</summary>
    /// <param name="folder">The run folder.</param>
    public static Seq2SeqSettings ReadSettings(string folder) =>
        RunSkeleton.ReadSettings(folder, Seq2SeqJson.Default.Seq2SeqRunFile, (file, path) => Seq2SeqSettings.FromJson(file.Settings, path), "an encoder-decoder run");

    /// <summary>Trains a new encoder-decoder run.</summary>
    /// <param name="settings">The settings.</param>
    /// <param name="device">The device name (auto, cpu, cuda:N, ...).</param>
    /// <param name="outPath">The run folder, or null for <c>runs/&lt;name&gt;-&lt;time&gt;</c>.</param>
    /// <param name="commandLine">Recorded as <c>command.txt</c>.</param>
    /// <param name="observer">Shows progress and draws the loss plot.</param>
    /// <param name="untilStep">Stop after this step (null: the end).</param>
    /// <param name="cancel">Stops after the next step (<c>last/</c> written first).</param>
    /// <exception cref="LstmException">A setting, file or device is bad (no folder is left behind).</exception>
    public static Seq2SeqRunResult Start(
        Seq2SeqSettings settings, string device, string? outPath, string commandLine, ITrainingObserver observer, long? untilStep = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(observer);
        settings.Validate();
        var data = Seq2SeqData.Prepare(settings);
        var config = data.ModelFor(settings);
        var training = TrainerFor(settings, data);
        (training with { CheckpointEvery = 0 }).Validate();
        string path = outPath ?? RunFolder.DefaultPath(settings.Task ?? Path.GetFileNameWithoutExtension(settings.Pairs!), DateTime.Now);
        string runConfig = JsonSerializer.Serialize(
            new Seq2SeqRunFile { Model = JsonDocument.Parse(config.ToJson()).RootElement, Settings = settings.ToJson() }, Seq2SeqJson.Default.Seq2SeqRunFile);
        return RunSkeleton.Start(
            path, device, commandLine, runConfig, config.ToJson(), PairData.FileName, data.Description.ToJson(), [RunFiles.Metrics, ValidationFile],
            (folder, dev, modelFiles) => Train(
                folder, dev, data, config, training with { ExtraFiles = modelFiles }, null, new MetricsLog(folder[RunFiles.Metrics]), [], observer, untilStep, cancel));
    }

    /// <summary>Continues an encoder-decoder run from its <c>last/</c> checkpoint, with its recorded settings.</summary>
    /// <param name="path">The run folder.</param>
    /// <param name="device">The device name.</param>
    /// <param name="observer">Shows progress and draws the loss plot.</param>
    /// <param name="untilStep">Stop after this step (null: the end).</param>
    /// <param name="cancel">Stops after the next step.</param>
    /// <exception cref="LstmException">The folder is not such a run, another process holds it, or a file is bad.</exception>
    public static Seq2SeqRunResult Resume(string path, string device, ITrainingObserver observer, long? untilStep = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(observer);
        return RunSkeleton.Resume(
            path, device, ReadSettings,
            (settings, folder) =>
            {
                var data = Seq2SeqData.Prepare(settings);
                return (Data: data, Config: data.ModelFor(settings), Training: TrainerFor(settings, data) with { ExtraFiles = folder.ModelDirectoryFiles() });
            },
            (at, p) => Train(at.Folder, at.Device, p.Data, p.Config, p.Training, at.Checkpoint, at.Metrics, at.Notes, observer, untilStep, cancel));
    }

    /// <summary>One line saying what an encoder-decoder is.</summary>
    /// <param name="c">The configuration.</param>
    public static string Describe(ModelConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return $"{ModelConfig.CellName(c.Cell).ToUpperInvariant()} encoder-decoder with {ModelConfig.AttentionName(c.Attention)} attention: embeddings {c.VocabSize} source and {c.TargetVocabSize} target × {c.EmbeddingDim}, "
            + $"hidden {c.HiddenSize}, {c.NumLayers} layer{(c.NumLayers == 1 ? "" : "s")}{(c.Bidirectional ? ", bidirectional encoder" : "")}";
    }

    /// <summary>The trainer's settings: Adam, cross-entropy with <c>&lt;pad&gt;</c> weighed 0, clipping, validation and checkpoints at one interval.</summary>
    private static TrainerOptions TrainerFor(Seq2SeqSettings s, Seq2SeqData data) =>
        TrainingLoopSettings.Trainer(s, Seq2SeqSettings.DefaultSteps, Seq2SeqSettings.DefaultBatchSize, Seq2SeqSettings.DefaultLearningRate, data.Train.Count) with
        {
            Loss = LossKind.CrossEntropy,
            ClassWeights = data.PaddingMaskWeights(),
        };

    private static Seq2SeqRunResult Train(
        RunFolder folder, ComputeDevice device, Seq2SeqData data, ModelConfig config, TrainerOptions training, string? checkpoint,
        MetricsLog metrics, IReadOnlyList<string> recovered, ITrainingObserver observer, long? untilStep, CancellationToken cancel)
    {
        using var model = new Seq2SeqBatchModel(new Seq2SeqModel<float>(device, config, training.Seed));
        using var trainer = new Trainer<float>(model, data.Train, data.Validation, training with { CheckpointEvery = 0, CheckpointDirectory = null });
        if (checkpoint is not null)
            trainer.Resume(checkpoint);
        long firstStep = trainer.Step;
        var validations = new ValidationLog(folder[ValidationFile], firstStep);
        long parameters = model.NamedParameters().Sum(p => p.Parameter.Value.Length);
        var start = new TrainingRunStart(
            data.Summary, $"{Describe(config)}, {parameters:N0} parameters, on {device.Name}",
            TrainingSettings.Describe(training with { ClassWeights = null }, trainer.TotalSteps) + "; teacher forcing, <pad> targets weighed 0",
            folder.Path, checkpoint is not null, firstStep, trainer.TotalSteps, training.ValidateEvery, recovered);
        string title = $"{ModelConfig.CellName(config.Cell)} encoder-decoder {config.HiddenSize}×{config.NumLayers}";

        // Before the checkpoints: validation.jsonl is flushed with metrics.jsonl's records.
        Reporter<TrainerProgress> WithValidations(Reporter<TrainerProgress> progress) => new(p =>
        {
            if (p.ValidationLoss is { } loss)
                validations.Add(p.Step, loss, Seq2SeqScoring.TeacherForced(model, data.Validation, training.BatchSize).TokenAccuracy);
            progress.Report(p);
        });

        var run = RunSkeleton.Loop(folder, trainer, metrics, training, observer, start, title, WithValidations, untilStep, cancel, "encoder-decoder run");
        return new Seq2SeqRunResult(run, validations.Last?.TokenAccuracy, validations.Last?.Step ?? 0);
    }

    /// <summary><c>validation.jsonl</c>: one line per validation (step, loss, token accuracy), written whole; a resume keeps the lines up to its step.</summary>
    private sealed class ValidationLog
    {
        private readonly string _path;
        private readonly List<(long Step, double Loss, double TokenAccuracy)> _lines = [];

        public ValidationLog(string path, long resumedStep)
        {
            _path = path;
            if (!File.Exists(path))
                return;
            foreach (string line in File.ReadLines(path).Where(l => l.Length > 0))
            {
                try
                {
                    var o = JsonNode.Parse(line)!.AsObject();
                    long step = (long)o["step"]!;
                    if (step <= resumedStep)
                        _lines.Add((step, (double)o["val_loss"]!, (double)o["token_accuracy"]!));
                }
                catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or NullReferenceException)
                {
                    throw new LstmException($"{path}: a line is not a validation record ({e.Message})", e);
                }
            }
        }

        public (long Step, double Loss, double TokenAccuracy)? Last => _lines.Count > 0 ? _lines[^1] : null;

        public void Add(long step, double loss, double accuracy)
        {
            _lines.Add((step, loss, accuracy));
            AtomicFile.WriteAllText(_path, string.Concat(_lines.Select(l => string.Create(CultureInfo.InvariantCulture,
                $"{{\"step\":{l.Step},\"val_loss\":{l.Loss:R},\"token_accuracy\":{l.TokenAccuracy:R}}}\n"))));
        }
    }
}

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Lstm.Runtime.Training;

/// <summary>
/// The training loop's options, declared once for the classification and the encoder-decoder
/// settings (null where not given: the run's defaults apply). They are the records' last
/// properties, so each record's <c>config.json</c> lists them last, as it always has.
/// </summary>
public abstract record TrainingLoopOptions
{
    /// <summary>Steps (unless epochs).</summary>
    public int? Steps { get; init; }

    /// <summary>Epochs instead of steps.</summary>
    public int? Epochs { get; init; }

    /// <summary>B.</summary>
    public int? BatchSize { get; init; }

    /// <summary>Adam's learning rate.</summary>
    public double? LearningRate { get; init; }

    /// <summary>Global-norm clipping (default 1; 0 off).</summary>
    public double? Clip { get; init; }

    /// <summary>Validation interval (default 100 steps).</summary>
    public int? ValidateEvery { get; init; }

    /// <summary>Checkpoint interval (default the validation interval).</summary>
    public int? CheckpointEvery { get; init; }

    /// <summary>The seed of data, split, initialization, order and dropout.</summary>
    public int? Seed { get; init; }

    /// <summary>The seed in effect.</summary>
    [JsonIgnore]
    public int SeedOrDefault => Seed ?? TrainingDefaults.Seed;
}

/// <summary>
/// The training options that every run on variable-length samples (classifier, labeller,
/// encoder-decoder) takes alike: its sample counts, the network's size, the schedule, Adam's
/// learning rate and clipping. Each run's settings record keeps its own properties (so its
/// <c>config.json</c> keeps its order) and implements this, so that <see cref="TrainingLoopSettings"/>
/// checks them and makes the trainer's options once.
/// </summary>
internal interface ITrainingLoopSettings
{
    /// <summary>A task's training samples.</summary>
    int? TrainSamples { get; }

    /// <summary>A task's validation samples.</summary>
    int? ValSamples { get; }

    /// <summary>H.</summary>
    int? Hidden { get; }

    /// <summary>L.</summary>
    int? Layers { get; }

    /// <summary>E.</summary>
    int? EmbeddingDim { get; }

    /// <summary>Steps (unless epochs).</summary>
    int? Steps { get; }

    /// <summary>Epochs instead of steps.</summary>
    int? Epochs { get; }

    /// <summary>B.</summary>
    int? BatchSize { get; }

    /// <summary>The validation fraction of a file's samples.</summary>
    double? ValFraction { get; }

    /// <summary>Adam's learning rate.</summary>
    double? LearningRate { get; }

    /// <summary>Global-norm clipping (default 1; 0 off).</summary>
    double? Clip { get; }

    /// <summary>Validation interval (default 100 steps).</summary>
    int? ValidateEvery { get; }

    /// <summary>Checkpoint interval (default the validation interval).</summary>
    int? CheckpointEvery { get; }

    /// <summary>The seed in effect.</summary>
    int SeedOrDefault { get; }
}

/// <summary>The rules, trainer options and JSON reading shared by the <see cref="ITrainingLoopSettings"/> records.</summary>
internal static class TrainingLoopSettings
{
    /// <summary>Validation (and, by default, checkpoint) interval when not given.</summary>
    public const int DefaultValidateEvery = 100;

    /// <summary>Throws one <see cref="LstmException"/> naming the first bad option among the shared ones.</summary>
    /// <param name="s">The settings.</param>
    public static void Validate(ITrainingLoopSettings s)
    {
        AtLeast("--train-samples", s.TrainSamples, 1);
        AtLeast("--val-samples", s.ValSamples, 1);
        AtLeast("--hidden", s.Hidden, 1);
        AtLeast("--layers", s.Layers, 1);
        AtLeast("--embedding-dim", s.EmbeddingDim, 1);
        AtLeast("--steps", s.Steps, 1);
        AtLeast("--epochs", s.Epochs, 1);
        AtLeast("--batch-size", s.BatchSize, 1);
        AtLeast("--validate-every", s.ValidateEvery, 1);
        AtLeast("--checkpoint-every", s.CheckpointEvery, 1);
        if (s.Steps is not null && s.Epochs is not null)
            throw new LstmException("give --steps or --epochs, not both");
        if (s.ValFraction is { } f && !(f > 0 && f < 1))
            throw new LstmException($"--val-fraction {Number(f)}: must lie in (0, 1)");
        if (s.LearningRate is { } lr && !(lr > 0 && double.IsFinite(lr)))
            throw new LstmException($"--lr {Number(lr)}: must be a finite number > 0");
        if (s.Clip is { } c && !(c >= 0 && double.IsFinite(c)))
            throw new LstmException($"--clip {Number(c)}: must be a finite number ≥ 0");
    }

    /// <summary>Throws when an option given is below <paramref name="least"/>.</summary>
    /// <param name="option">The option, for the message.</param>
    /// <param name="value">Its value (null: not given).</param>
    /// <param name="least">The least allowed.</param>
    public static void AtLeast(string option, int? value, int least)
    {
        if (value is { } v && v < least)
            throw new LstmException($"{option} {v}: must be at least {least}");
    }

    /// <summary>A number as a message shows it (round-trip, invariant).</summary>
    /// <param name="v">The number.</param>
    public static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>
    /// The trainer's options for the shared settings: Adam, clipping, steps or epochs, the batch
    /// (no larger than the training set), validation and checkpoints at one interval, the best
    /// weights not restored at the end; the caller adds its loss and class weights.
    /// </summary>
    /// <param name="s">The settings.</param>
    /// <param name="defaultSteps">Steps when neither steps nor epochs are given.</param>
    /// <param name="defaultBatchSize">B when not given.</param>
    /// <param name="defaultLearningRate">The learning rate when not given.</param>
    /// <param name="trainCount">The training samples.</param>
    public static TrainerOptions Trainer(ITrainingLoopSettings s, int defaultSteps, int defaultBatchSize, double defaultLearningRate, int trainCount)
    {
        int every = s.ValidateEvery ?? DefaultValidateEvery;
        return new TrainerOptions
        {
            Steps = s.Epochs is null ? s.Steps ?? defaultSteps : 0,
            Epochs = s.Epochs ?? 0,
            BatchSize = Math.Min(s.BatchSize ?? defaultBatchSize, trainCount),
            LearningRate = s.LearningRate ?? defaultLearningRate,
            ClipNorm = s.Clip ?? 1.0,
            ValidateEvery = every,
            CheckpointEvery = s.CheckpointEvery ?? every,
            RestoreBest = false,
            Seed = s.SeedOrDefault,
        };
    }

    /// <summary>Settings read from a run file's JSON and checked by <paramref name="validate"/>; a JSON error is named with <paramref name="source"/>.</summary>
    /// <param name="json">The element.</param>
    /// <param name="info">The record's source-generated JSON.</param>
    /// <param name="source">The file, for messages.</param>
    /// <param name="what">What the settings are, for the message when the element is null.</param>
    /// <param name="validate">The record's own rules.</param>
    public static TSettings FromJson<TSettings>(JsonElement json, JsonTypeInfo<TSettings> info, string source, string what, Action<TSettings> validate)
    {
        try
        {
            var s = json.Deserialize(info) ?? throw new LstmException($"{source}: no {what}");
            validate(s);
            return s;
        }
        catch (JsonException e)
        {
            throw new LstmException($"{source}: {e.Message}", e);
        }
    }
}

using System.Diagnostics;
using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;

namespace Lstm.Runtime.Training;

/// <summary>
/// The settings of a comparison of the cells (<c>lstm compare</c>): one synthetic task, and the
/// same seed, steps, batch size, optimizer and hidden size for every cell. The constants are the
/// defaults; <see cref="Validate"/> holds the rules.
/// </summary>
public sealed record CellComparisonSettings
{
    /// <summary>The default task.</summary>
    public const string DefaultTask = DataDefaults.Task;

    /// <summary>The default T of the task.</summary>
    public const int DefaultSeqLen = DataDefaults.SeqLen;

    /// <summary>The default steps of each model.</summary>
    public const int DefaultSteps = 300;

    /// <summary>The default hidden size.</summary>
    public const int DefaultHidden = 32;

    /// <summary>The default number of layers.</summary>
    public const int DefaultLayers = 1;

    /// <summary>The default batch size.</summary>
    public const int DefaultBatchSize = 32;

    /// <summary>The default learning rate of Adam.</summary>
    public const double DefaultLearningRate = 0.01;

    /// <summary>The default seed.</summary>
    public const int DefaultSeed = 1;

    /// <summary>The global gradient-norm clip of every model.</summary>
    public const double Clip = 1.0;

    /// <summary>The embedding size of a model of tokens (the copy task).</summary>
    public const int EmbeddingDim = 16;

    /// <summary>The task (trimmed and lower-cased before use).</summary>
    public string Task { get; init; } = DefaultTask;

    /// <summary>T of the task.</summary>
    public int SeqLen { get; init; } = DefaultSeqLen;

    /// <summary>Training steps of each model.</summary>
    public int Steps { get; init; } = DefaultSteps;

    /// <summary>H of each model.</summary>
    public int Hidden { get; init; } = DefaultHidden;

    /// <summary>L of each model.</summary>
    public int Layers { get; init; } = DefaultLayers;

    /// <summary>B.</summary>
    public int BatchSize { get; init; } = DefaultBatchSize;

    /// <summary>Adam's learning rate.</summary>
    public double LearningRate { get; init; } = DefaultLearningRate;

    /// <summary>Seed of the samples, initialization and batch order (the same for every cell).</summary>
    public int Seed { get; init; } = DefaultSeed;

    /// <summary>The device's name.</summary>
    public string Device { get; init; } = ComputeDevice.Auto;

    /// <summary>Checks the sizes (not the data: see <see cref="CellComparison.Open"/>).</summary>
    /// <exception cref="LstmException">A size is below 1; the message names its option.</exception>
    public void Validate()
    {
        foreach (var (name, value) in new[] { ("--steps", Steps), ("--hidden", Hidden), ("--layers", Layers), ("--batch-size", BatchSize) })
        {
            if (value < 1)
                throw new LstmException($"{name} {value}: must be ≥ 1");
        }
    }

    /// <summary>The spec of the task's samples.</summary>
    public DataSpec DataSpec => new() { Source = "task", Task = Task.Trim().ToLowerInvariant(), SeqLen = SeqLen, Seed = Seed };

    /// <summary>The trainer's options on <paramref name="data"/>: Adam, the clip, a validation every tenth of the steps.</summary>
    /// <param name="data">The prepared samples.</param>
    public TrainerOptions TrainerOptions(PreparedData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return new TrainerOptions
        {
            Steps = Steps,
            BatchSize = BatchSize,
            ValidationBatchSize = TrainingDefaults.ValidationBatchSize(BatchSize, data.Validation.Count),
            Optimizer = OptimizerKind.Adam,
            LearningRate = LearningRate,
            ClipNorm = Clip,
            Loss = data.Tokens ? LossKind.CrossEntropy : LossKind.Mse,
            ValidateEvery = TrainingDefaults.ValidateEvery(Steps),
            Seed = Seed,
        };
    }
}

/// <summary>One cell's row of a comparison: every number measured.</summary>
/// <param name="Cell">The cell.</param>
/// <param name="Parameters">Its trainable values.</param>
/// <param name="FinalValidationLoss">The last validation loss, if any.</param>
/// <param name="BestValidationLoss">The best validation loss, if any.</param>
/// <param name="Seconds">Training time.</param>
/// <param name="Steps">Steps trained.</param>
public sealed record CellComparisonRow(CellKind Cell, long Parameters, double? FinalValidationLoss, double? BestValidationLoss, double Seconds, long Steps)
{
    /// <summary>The cell's name (<c>rnn-tanh</c>, <c>lstm</c>, <c>gru</c>).</summary>
    public string CellName => ModelConfig.CellName(Cell);

    /// <summary>Steps per second.</summary>
    public double StepsPerSecond => Steps / Seconds;
}

/// <summary>
/// An RNN (tanh), an LSTM and a GRU trained one after another on the same samples with the same
/// settings (<see cref="CellComparisonSettings"/>); <see cref="Train"/> gives one row per cell.
/// </summary>
public sealed class CellComparison : IDisposable
{
    private readonly TrainerOptions _training;

    private CellComparison(CellComparisonSettings settings, PreparedData data, TrainerOptions training, ComputeDevice device)
    {
        Settings = settings;
        Data = data;
        _training = training;
        Device = device;
    }

    /// <summary>The cells compared, in order.</summary>
    public static IReadOnlyList<CellKind> Cells { get; } = [CellKind.RnnTanh, CellKind.Lstm, CellKind.Gru];

    /// <summary>The settings.</summary>
    public CellComparisonSettings Settings { get; }

    /// <summary>The samples.</summary>
    public PreparedData Data { get; }

    /// <summary>The device every model trains on.</summary>
    public ComputeDevice Device { get; }

    /// <summary>Checks the settings, prepares the samples (the batch must not exceed them), then opens the device.</summary>
    /// <param name="settings">The settings.</param>
    /// <exception cref="LstmException">A bad setting; the message names its option.</exception>
    public static CellComparison Open(CellComparisonSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        var data = settings.DataSpec.Prepare();
        if (settings.BatchSize > data.Train.Count)
            throw new LstmException($"--batch-size {settings.BatchSize}: larger than the {data.Train.Count} training samples");
        var training = settings.TrainerOptions(data);
        training.Validate();
        return new CellComparison(settings, data, training, ComputeDevice.Open(settings.Device));
    }

    /// <summary>Trains a model of <paramref name="cell"/> from the seed and measures it.</summary>
    /// <param name="cell">The cell.</param>
    public CellComparisonRow Train(CellKind cell)
    {
        var s = Settings;
        var config = Data.Tokens
            ? ModelConfig.LanguageModel(cell, Data.Classes, CellComparisonSettings.EmbeddingDim, s.Hidden, s.Layers)
            : new ModelConfig(ModelKind.SequenceToOne, cell, Data.Train.InputSize, s.Hidden, Data.Train.TargetLength, s.Layers);
        using var model = new SequenceNetwork<float>(Device, config, s.Seed);
        using var trainer = new Trainer<float>(model, Data.Train, Data.Validation, _training);
        double? final = null;
        trainer.Progress = new Reporter<TrainerProgress>(p => final = p.ValidationLoss ?? final);
        var clock = Stopwatch.StartNew();
        var result = trainer.Run();
        double seconds = clock.Elapsed.TotalSeconds;
        long parameters = model.NamedParameters().Sum(p => p.Parameter.Value.Length);
        return new CellComparisonRow(cell, parameters, final, result.BestValidationLoss, seconds, result.Steps);
    }

    /// <summary>Closes the device.</summary>
    public void Dispose() => Device.Dispose();
}

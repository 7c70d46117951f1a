using System.Diagnostics;
using System.Globalization;
using Lstm.Runtime.Data;
using Lstm.Runtime.Models;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Scheduling;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <summary>
/// Trains an <see cref="ISequenceModel{T}"/> on an <see cref="ISequenceDataset"/>: per step one
/// batch from a <see cref="DataLoader"/>, a dropout seed from (seed, step), forward, loss,
/// backward, global-norm clipping, the scheduled learning rate and one optimizer update; then,
/// as <see cref="TrainerOptions"/> says, validation over the whole validation set, early stopping
/// and checkpoints (<c>last/</c>, <c>best/</c>; see <see cref="TrainingCheckpoint"/>).
/// <see cref="Resume"/> continues from a checkpoint so that every later step's loss and the final
/// weights equal bit for bit those of a run that was never interrupted (on the same device).
/// Given several replicas of the model, it trains them data-parallel (see <see cref="DataParallel{T}"/>):
/// each takes a shard of every batch, their gradients are added in a fixed order into replica 0,
/// which steps, validates and is checkpointed, and its weights are copied to the others.
/// </summary>
/// <remarks>
/// Dimension letters: B batch, T steps, I input features, O outputs per row.
/// A batch becomes the model's input x [B, T, I] (values) or tokens [B, T] (class ids, I = 1),
/// and the loss's target: for MSE, rows of y [B, O] (last step) or [B·T, O] (every step, row
/// b·T + t); for cross-entropy, one class id per output row, [B] or [B·T].
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
public sealed partial class Trainer<T> : IDisposable where T : unmanaged
{
    private readonly ISequenceModel<T> _model;
    private readonly (string Name, Parameter<T> Parameter)[] _parameters;
    private readonly ISequenceDataset _train;
    private readonly ISequenceDataset? _validation;
    private readonly DataLoader _loader;
    private readonly DataParallel<T>? _parallel;
    private T[][]? _bestWeights;
    private double? _lastTrainLoss;
    private double? _lastValidationLoss;
    private NonFiniteStep? _nonFinite;
    private long _skippedBefore;

    /// <summary>Creates the trainer at step 0 (or call <see cref="Resume"/> to continue a checkpoint).</summary>
    /// <param name="model">The model to train (not disposed by the trainer).</param>
    /// <param name="train">The training samples.</param>
    /// <param name="validation">The validation samples, or null for none (no validation, no early stopping, no <c>best/</c>).</param>
    /// <param name="options">The settings.</param>
    public Trainer(ISequenceModel<T> model, ISequenceDataset train, ISequenceDataset? validation, TrainerOptions options)
        : this([model ?? throw new ArgumentNullException(nameof(model))], train, validation, options)
    {
    }

    /// <summary>
    /// Creates a data-parallel trainer at step 0 over replicas of one model, one per device, built
    /// from the same configuration and seed (checked). Each takes <see cref="TrainerOptions.Shards"/>
    /// rows of every batch; without them the shards are measured: a forward and backward pass of a
    /// probe batch (the first B training samples) is timed on each replica and the batch split in
    /// proportion to their speeds (<see cref="DataParallel{T}.ProportionalShards"/>), see <see cref="Shards"/>.
    /// One replica is the one-device trainer.
    /// </summary>
    /// <remarks>
    /// Without dropout a data-parallel run computes the one-device run's mean loss and gradient up to
    /// the summation order (shard losses weighted by shard / B, gradients added in replica order).
    /// With dropout its masks differ from the one-device run's (see <see cref="DataParallel{T}.DropoutSeedFor"/>);
    /// either way it is deterministic for given devices and shards, and a resume continues it bit for bit.
    /// </remarks>
    /// <param name="replicas">Replica 0 (it steps, validates and is checkpointed) first, each on its own device (not disposed by the trainer).</param>
    /// <param name="train">The training samples.</param>
    /// <param name="validation">The validation samples, or null for none.</param>
    /// <param name="options">The settings.</param>
    /// <exception cref="LstmException">The settings, the data or the replicas do not fit (a shard count other than the replica count among them).</exception>
    public Trainer(IReadOnlyList<ISequenceModel<T>> replicas, ISequenceDataset train, ISequenceDataset? validation, TrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(replicas);
        if (replicas.Count == 0)
            throw new LstmException("trainer: no model to train (no replicas)");
        var model = replicas[0];
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _model = model;
        _train = train;
        _validation = validation;
        Options = options;
        if ((train is IVariableLengthDataset || validation is IVariableLengthDataset) && replicas.Any(r => r is not IVariableLengthModel<T>))
            throw new LstmException($"trainer: the samples have different lengths, but the model ({model.GetType().Name}) reads only sequences of one length");
        CheckDataset("training", train, model, options.Loss);
        if (validation is not null)
        {
            CheckDataset("validation", validation, model, options.Loss);
            // Variable-length sets are padded per batch: their longest samples may differ.
            bool variable = train is IVariableLengthDataset && validation is IVariableLengthDataset;
            if ((!variable && validation.Steps != train.Steps) || validation.InputSize != train.InputSize || (!variable && validation.TargetLength != train.TargetLength))
                throw new LstmException($"trainer: validation samples (T={validation.Steps}, I={validation.InputSize}, target {validation.TargetLength}) differ from training samples (T={train.Steps}, I={train.InputSize}, target {train.TargetLength})");
        }

        if (options.ClassWeights is { } weights && weights.Count != model.OutputSize)
            throw new LstmException($"trainer: {weights.Count} class weights given for a model of {model.OutputSize} classes");
        if (options.Patience > 0 && validation is null)
            throw new LstmException($"trainer: early stopping (patience {options.Patience}) needs a validation set");
        if (options.BatchSize > train.Count)
            throw new LstmException($"trainer: batch size {options.BatchSize} exceeds the {train.Count} training samples");
        foreach (string file in options.ExtraFiles)
        {
            if (!File.Exists(file))
                throw new LstmException($"trainer: extra file '{file}' does not exist");
        }

        if (options.Devices is { } names && names.Count != replicas.Count)
            throw new LstmException($"trainer: the options name {names.Count} devices ({string.Join(",", names)}) but {replicas.Count} replicas were given");
        if (options.Shards is { } given)
            DataParallel<T>.CheckShards(given, replicas.Count, options.BatchSize);
        else if (options.BatchSize < replicas.Count)
            throw new LstmException($"trainer: a batch of {options.BatchSize} cannot give each of {replicas.Count} devices a row");
        _parameters = model.NamedParameters().ToArray();
        if (replicas.Count > 1)
        {
            // Built before the shards are measured: it checks the replicas are equal and on distinct devices.
            var parallel = new DataParallel<T>(replicas, options.Shards ?? Enumerable.Repeat(1, replicas.Count).ToArray());
            if (options.Shards is null)
            {
                int[] shards;
                try
                {
                    shards = DataParallel<T>.ProportionalShards(MeasureSpeeds(replicas), options.BatchSize);
                }
                finally
                {
                    parallel.Dispose();
                }

                parallel = new DataParallel<T>(replicas, shards);
            }

            _parallel = parallel;
        }

        try
        {
            Shards = _parallel?.Shards ?? [options.BatchSize];
            _loader = new DataLoader(train, options.BatchSize, options.Seed, options.Shuffle);
            TotalSteps = options.Epochs > 0 ? (long)options.Epochs * _loader.BatchesPerEpoch : options.Steps;
            Schedule = options.CreateSchedule(TotalSteps);
            Optimizer = options.CreateOptimizer(_parameters);
        }
        catch
        {
            _parallel?.Dispose();
            throw;
        }
    }

    /// <summary>The settings.</summary>
    public TrainerOptions Options { get; }

    /// <summary>The model (replica 0 of a data-parallel trainer).</summary>
    public ISequenceModel<T> Model => _model;

    /// <summary>The replicas and their all-reduce, or null for a one-device trainer.</summary>
    public DataParallel<T>? Parallel => _parallel;

    /// <summary>Rows of each batch per replica (given or measured); one device takes the whole batch.</summary>
    public IReadOnlyList<int> Shards { get; }

    /// <summary>The optimizer (its state is part of every checkpoint).</summary>
    public Optimizer<T> Optimizer { get; }

    /// <summary>The learning-rate schedule.</summary>
    public LearningRateSchedule Schedule { get; }

    /// <summary>Steps the run is set to do (<see cref="TrainerOptions.Steps"/>, or epochs × full batches per epoch).</summary>
    public long TotalSteps { get; }

    /// <summary>Steps done.</summary>
    public long Step { get; private set; }

    /// <summary>Where the training loader's next batch starts.</summary>
    public DataPosition Position => _loader.Position;

    /// <summary>The best validation loss so far, or null.</summary>
    public double? BestValidationLoss { get; private set; }

    /// <summary>The step of <see cref="BestValidationLoss"/> (0 when none).</summary>
    public long BestStep { get; private set; }

    /// <summary>Validations since the best one (early stopping stops when it reaches the patience).</summary>
    public int ValidationsWithoutImprovement { get; private set; }

    /// <summary>Whether early stopping has ended training.</summary>
    public bool StoppedEarly { get; private set; }

    /// <summary>Called after every step.</summary>
    public IProgress<TrainerProgress>? Progress { get; set; }

    /// <summary>Called with each file name as a checkpoint writes it into its temporary directory (tests inject failures here).</summary>
    internal Action<string>? CheckpointFault { get; set; }

    /// <summary>The dropout seed of step <paramref name="step"/> (1-based) of a run seeded with <paramref name="seed"/> (SplitMix64 of both).</summary>
    /// <param name="seed">The run's seed.</param>
    /// <param name="step">The step.</param>
    public static ulong DropoutSeedFor(int seed, long step)
    {
        unchecked
        {
            ulong z = ((ulong)(uint)seed << 32) ^ (ulong)step ^ 0xD1B54A32D192ED03UL;
            z += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    /// <summary>
    /// Trains until <see cref="TotalSteps"/> (or <paramref name="untilStep"/>, if smaller) steps are
    /// done or early stopping ends it; validates, reports and writes checkpoints along the way,
    /// and <c>last/</c> when it returns (with a checkpoint directory).
    /// </summary>
    /// <param name="untilStep">Stop after this many steps in total (null: <see cref="TotalSteps"/>).</param>
    /// <param name="cancellationToken">Checked before each step; a cancelled run returns after writing <c>last/</c>.</param>
    /// <remarks>With <see cref="TrainerOptions.RestoreBest"/>, the best weights are copied back only when training has ended (all steps done or stopped early).</remarks>
    public TrainerResult Run(long? untilStep = null, CancellationToken cancellationToken = default)
    {
        long end = Math.Min(untilStep ?? TotalSteps, TotalSteps);
        var clock = Stopwatch.StartNew();
        long first = Step;
        _skippedBefore = SkippedSteps;
        _nonFinite = null;
        bool checkpointed = false;
        while (Step < end && !StoppedEarly && !cancellationToken.IsCancellationRequested)
        {
            if (TrainStep() is not var (loss, lr, norm, epoch))
                break; // A non-finite step under NonFiniteAction.Stop: NonFinite says which.
            double? validation = null;
            bool lastStep = Step == TotalSteps;
            if (_validation is not null && ((Options.ValidateEvery > 0 && Step % Options.ValidateEvery == 0) || lastStep))
            {
                validation = Validate();
                _lastValidationLoss = validation;
                Observe(validation.Value);
                if (!double.IsFinite(validation.Value) && Options.OnNonFinite == NonFiniteAction.Stop)
                    _nonFinite = new NonFiniteStep(Step, loss, norm, validation.Value, false);
            }

            checkpointed = false;
            if (Options.CheckpointEvery > 0 && Step % Options.CheckpointEvery == 0)
            {
                SaveCheckpoint(LastDirectory!);
                checkpointed = true;
            }

            double seconds = clock.Elapsed.TotalSeconds;
            Progress?.Report(new TrainerProgress(Step, epoch, loss, lr, norm, validation, clock.Elapsed, seconds > 0 ? (Step - first) / seconds : 0));
            if (_nonFinite is not null)
                break;
        }

        if (_nonFinite is not null)
            return StopNonFinite(clock.Elapsed);
        if (Options.CheckpointDirectory is not null && !checkpointed && Step > first)
            SaveCheckpoint(LastDirectory!);
        if (Options.RestoreBest && _bestWeights is not null && (StoppedEarly || Step == TotalSteps))
            RestoreBestWeights();
        return new TrainerResult(Step, StoppedEarly, BestValidationLoss, BestStep, clock.Elapsed, null, SkippedSteps - _skippedBefore);
    }

    /// <summary>The mean loss over the whole validation set, in index order, without dropout (the last batch may be smaller).</summary>
    /// <exception cref="LstmException">The trainer has no validation set.</exception>
    public double Validate()
    {
        var data = _validation ?? throw new LstmException("trainer: no validation set to validate on");
        int batch = Math.Min(Options.ValidationBatchSize > 0 ? Options.ValidationBatchSize : Options.BatchSize, data.Count);
        double sum = 0, total = 0;
        for (int start = 0; start < data.Count; start += batch)
        {
            int b = Math.Min(batch, data.Count - start);
            var indices = Enumerable.Range(start, b).ToArray();
            var (loss, grad, weight) = Forward(_model, DataLoader.Load(data, indices), 0, b, training: false);
            grad.Dispose();
            sum += loss * weight;
            total += weight;
        }

        return total > 0 ? sum / total : 0;
    }

    /// <summary>
    /// Writes a checkpoint of the current state (weights, optimizer, <c>trainer.json</c>, extra
    /// files) to <paramref name="directory"/>, atomically (<see cref="TrainingCheckpoint.Write"/>).
    /// </summary>
    /// <param name="directory">The checkpoint directory (replaced whole).</param>
    public void SaveCheckpoint(string directory)
    {
        var state = new TrainerState(
            1, Step, TotalSteps, Num<T>.DTypeName, Options.Seed, Options.BatchSize, _train.Count, _loader.Position,
            DropoutSeedFor(Options.Seed, Step + 1), BestValidationLoss, BestStep, ValidationsWithoutImprovement, StoppedEarly,
            Optimizer.Kind, Optimizer.LearningRate, Finite(_lastTrainLoss), Finite(_lastValidationLoss),
            Options.ExtraFiles.Select(Path.GetFileName).ToArray()!);
        var weights = new SafeTensorsFile(
            _parameters.Select(p => StateDict.ToSafeTensor(p.Name, p.Parameter.Value)).ToList(),
            new Dictionary<string, string>(StringComparer.Ordinal) { ["step"] = Step.ToString(CultureInfo.InvariantCulture) });
        var optimizer = Optimizer.StateToFile();
        TrainingCheckpoint.Write(directory, weights, optimizer, Options.ExtraFiles, state, CheckpointFault);
    }

    /// <summary>
    /// Continues from a checkpoint: restores the weights, the optimizer's state, the data
    /// position, the step, the early-stopping state and, with <see cref="TrainerOptions.RestoreBest"/>,
    /// the best weights (from <c>best/</c> beside it, when it holds the best step), so that the
    /// following steps are those of an uninterrupted run.
    /// </summary>
    /// <param name="checkpointDirectory">A checkpoint directory (e.g. <c>runs/x/last</c>; see <see cref="TrainingCheckpoint.Locate"/>).</param>
    /// <exception cref="LstmException">The checkpoint is missing, incomplete, or from a run with another seed, batch size, training set, element type or optimizer.</exception>
    public void Resume(string checkpointDirectory)
    {
        string dir = TrainingCheckpoint.Locate(checkpointDirectory);
        var state = TrainingCheckpoint.ReadState(dir);
        string where = Path.Combine(dir, RunFiles.TrainerState);
        if (state.DType != Num<T>.DTypeName)
            throw new LstmException($"{where}: the checkpoint holds {state.DType}, the model is {Num<T>.DTypeName}");
        if (state.Seed != Options.Seed || state.BatchSize != Options.BatchSize || state.TrainSamples != _train.Count)
            throw new LstmException($"{where}: the checkpoint's run had seed {state.Seed}, batch size {state.BatchSize} and {state.TrainSamples} training samples; this trainer has {Options.Seed}, {Options.BatchSize} and {_train.Count}");
        if (state.Optimizer != Optimizer.Kind)
            throw new LstmException($"{where}: the checkpoint's optimizer is {state.Optimizer}, this trainer's is {Optimizer.Kind}");
        if (state.Step < 0 || state.BestStep < 0 || state.ValidationsWithoutImprovement < 0)
            throw new LstmException($"{where}: step {state.Step}, best step {state.BestStep} or the early-stopping counter {state.ValidationsWithoutImprovement} is negative");
        if (state.NextDropoutSeed != DropoutSeedFor(state.Seed, state.Step + 1))
            throw new LstmException($"{where}: next_dropout_seed {state.NextDropoutSeed} is not the one this trainer derives for step {state.Step + 1} of seed {state.Seed}; the run would not continue exactly");
        StateDict.Load(_parameters, TrainingCheckpoint.ReadWeights(dir));
        Optimizer.LoadState(TrainingCheckpoint.ReadOptimizerState(dir));
        _parallel?.BroadcastWeights();
        _loader.Restore(state.TrainPosition);
        Step = state.Step;
        BestValidationLoss = state.BestValidationLoss;
        BestStep = state.BestStep;
        ValidationsWithoutImprovement = state.ValidationsWithoutImprovement;
        StoppedEarly = state.StoppedEarly;
        _lastTrainLoss = state.TrainLoss;
        _lastValidationLoss = state.ValidationLoss;
        _bestWeights = null;
        // The best weights so far are in best/ beside the checkpoint, when it is the best step's.
        if (Options.RestoreBest && BestValidationLoss is not null && TrainingCheckpoint.ReadBestWeights(dir, BestStep) is { } file)
            _bestWeights = _parameters.Select(p => ToT(file.GetWithShape(p.Name, p.Parameter.Shape.ToArray()))).ToArray();
    }

    /// <summary>Frees the optimizer's state and the data-parallel buffers and threads (not the models).</summary>
    public void Dispose()
    {
        Optimizer.Dispose();
        _parallel?.Dispose();
    }

    private string? LastDirectory =>
        Options.CheckpointDirectory is null ? null : Path.Combine(Options.CheckpointDirectory, RunFiles.LastCheckpoint);

    /// <summary>One step: batch, dropout seed, forward, loss, backward, clipping, rate and update.</summary>
    private (double Loss, double LearningRate, double GradNorm, long Epoch)? TrainStep()
    {
        if (_parallel is not null)
            return TrainStepParallel(_parallel);
        var before = _loader.Position;
        var batch = _loader.Next();
        long epoch = _loader.Position.Epoch;
        _model.DropoutSeed = DropoutSeedFor(Options.Seed, Step + 1);
        _model.ZeroGrad();
        var (loss, grad, _) = Forward(_model, batch, 0, Options.BatchSize, training: true);
        using (grad)
            _model.Backward(grad);
        var parameters = _parameters.Select(p => p.Parameter);
        double norm = Options.ClipNorm > 0 ? GradientClipping.ClipGradNorm(parameters, Options.ClipNorm) : GradientClipping.GradNorm(parameters);
        Schedule.Apply(Optimizer);
        double lr = Optimizer.LearningRate;
        if (!Finite(loss, norm, before))
            return _nonFinite is null ? (loss, lr, norm, epoch) : null;
        Optimizer.Step();
        Step++;
        _lastTrainLoss = loss;
        return (loss, lr, norm, epoch);
    }

    /// <summary>Records a validation loss: a new best resets the counter (and keeps the weights), otherwise the counter grows and may stop training.</summary>
    private void Observe(double loss)
    {
        if (BestValidationLoss is null || loss < BestValidationLoss.Value)
        {
            BestValidationLoss = loss;
            BestStep = Step;
            ValidationsWithoutImprovement = 0;
            if (Options.RestoreBest)
                _bestWeights = _parameters.Select(p => p.Parameter.Value.ToArray()).ToArray();
            if (Options.CheckpointDirectory is not null)
                SaveCheckpoint(Path.Combine(Options.CheckpointDirectory, RunFiles.BestCheckpoint));
            return;
        }

        ValidationsWithoutImprovement++;
        if (Options.Patience > 0 && ValidationsWithoutImprovement >= Options.Patience)
            StoppedEarly = true;
    }

    private void RestoreBestWeights()
    {
        for (int i = 0; i < _parameters.Length; i++)
            _parameters[i].Parameter.Value.CopyFrom(_bestWeights![i]);
        _parallel?.BroadcastWeights();
    }

    private static T[] Convert(ReadOnlySpan<double> values)
    {
        var result = new T[values.Length];
        for (int i = 0; i < values.Length; i++)
            result[i] = Num<T>.From(values[i]);
        return result;
    }

    private static T[] ToT(SafeTensor t) => typeof(T) == typeof(float) ? (T[])(object)t.ToFloat32() : (T[])(object)t.ToFloat64();

    /// <summary>Throws when a dataset does not fit the model and loss.</summary>
    private static void CheckDataset(string what, ISequenceDataset data, ISequenceModel<T> model, LossKind loss)
    {
        if (data.Count < 1)
            throw new LstmException($"trainer: the {what} set has no samples");
        if (model.Input == SequenceInput.Tokens && data.InputSize != 1)
            throw new LstmException($"trainer: the model reads tokens [B, T] but the {what} samples have {data.InputSize} values per step (expected 1 class id)");
        if (loss == LossKind.Ctc)
        {
            if (model.Output != SequenceOutput.EveryStep || data.TargetLength < 1)
                throw new LstmException($"trainer: the CTC loss needs a model with an output on every step and targets of a label count then labels (the {what} samples have {data.TargetLength} target values)");
            return;
        }

        int rowsPerSample = model.Output == SequenceOutput.EveryStep ? data.Steps : 1;
        int expected = loss == LossKind.Mse ? rowsPerSample * model.OutputSize : rowsPerSample;
        if (data.TargetLength != expected)
        {
            string shape = model.Output == SequenceOutput.EveryStep ? $"T={data.Steps} rows" : "1 row";
            string per = loss == LossKind.Mse ? $"{model.OutputSize} values" : "1 class id";
            throw new LstmException($"trainer: the {what} samples have {data.TargetLength} target values, but {loss} on the model's output needs {expected} ({shape} of {per})");
        }
    }
}

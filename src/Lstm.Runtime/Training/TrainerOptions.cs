using System.Globalization;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <summary>The optimizers <see cref="Trainer{T}"/> builds.</summary>
public enum OptimizerKind
{
    /// <summary><see cref="Sgd{T}"/>, with optional momentum, dampening and nesterov.</summary>
    Sgd,

    /// <summary><see cref="Adam{T}"/> (L2 weight decay).</summary>
    Adam,

    /// <summary><see cref="Adam{T}"/> with decoupled weight decay (AdamW).</summary>
    AdamW,
}

/// <summary>The learning-rate schedules <see cref="Trainer{T}"/> builds (a warm-up may precede any of them).</summary>
public enum ScheduleKind
{
    /// <summary><see cref="ConstantSchedule"/>.</summary>
    Constant,

    /// <summary><see cref="StepSchedule"/>: lr·γ^⌊step / StepSize⌋.</summary>
    Step,

    /// <summary><see cref="CosineSchedule"/> from lr to MinLearningRate over the steps after warm-up.</summary>
    Cosine,
}

/// <summary>The losses <see cref="Trainer{T}"/> computes.</summary>
public enum LossKind
{
    /// <summary><see cref="MseLoss"/> on target values: [B, O] (last step) or [B·T, O] (every step).</summary>
    Mse,

    /// <summary><see cref="CrossEntropyLoss"/> on class ids, one per output row: B (last step) or B·T (every step).</summary>
    CrossEntropy,

    /// <summary>
    /// <see cref="CtcLoss"/> (blank 0, mean reduction) over every-step logits [B·T, C] after a log-softmax:
    /// each sample's target is its label count n and then n labels in [1, C) (padded to the set's length).
    /// </summary>
    Ctc,
}

/// <summary>What <see cref="Trainer{T}"/> does on a step whose loss or gradient norm is NaN or infinite.</summary>
public enum NonFiniteAction
{
    /// <summary>Stop before that step's update: the model and optimizer keep the last finite state (<see cref="TrainerResult.NonFinite"/> says which step).</summary>
    Stop,

    /// <summary>Skip that step's update and count it (<see cref="Trainer{T}.SkippedSteps"/>), as a mixed-precision gradient scaler does.</summary>
    Skip,
}

/// <summary>
/// Settings of a <see cref="Trainer{T}"/>: how long, which batches, which optimizer, schedule,
/// clipping and loss, when to validate, stop early and write checkpoints.
/// </summary>
public sealed record TrainerOptions
{
    /// <summary>Training steps (one batch and one optimizer update each); ignored when <see cref="Epochs"/> &gt; 0.</summary>
    public int Steps { get; init; } = 1000;

    /// <summary>When &gt; 0, train this many epochs (full batches of the training set) instead of <see cref="Steps"/>.</summary>
    public int Epochs { get; init; }

    /// <summary>B: samples per training batch.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Samples per validation batch; 0 uses <see cref="BatchSize"/>.</summary>
    public int ValidationBatchSize { get; init; }

    /// <summary>Whether each epoch visits the training samples in a new order drawn from (seed, epoch).</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>The optimizer.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;

    /// <summary>The base learning rate (the schedule's peak).</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>SGD's momentum μ.</summary>
    public double Momentum { get; init; }

    /// <summary>SGD's dampening.</summary>
    public double Dampening { get; init; }

    /// <summary>SGD's Nesterov momentum (needs μ &gt; 0 and no dampening).</summary>
    public bool Nesterov { get; init; }

    /// <summary>Adam's β1.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>Adam's β2.</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>Adam's ε.</summary>
    public double Eps { get; init; } = 1e-8;

    /// <summary>Weight decay: L2 for SGD and Adam, decoupled for AdamW.</summary>
    public double WeightDecay { get; init; }

    /// <summary>The schedule after warm-up.</summary>
    public ScheduleKind Schedule { get; init; } = ScheduleKind.Constant;

    /// <summary>Updates between decays of the step schedule.</summary>
    public int ScheduleStepSize { get; init; } = 100;

    /// <summary>The step schedule's decay factor γ.</summary>
    public double ScheduleGamma { get; init; } = 0.1;

    /// <summary>The cosine schedule's final rate.</summary>
    public double MinLearningRate { get; init; }

    /// <summary>Updates of linear warm-up before the schedule (0 = none).</summary>
    public int WarmupSteps { get; init; }

    /// <summary>The fraction of the rate on the first warm-up update, in [0, 1].</summary>
    public double WarmupStartFactor { get; init; }

    /// <summary>Global 2-norm gradient clipping's max norm (0 = off).</summary>
    public double ClipNorm { get; init; }

    /// <summary>What a step with a non-finite loss or gradient norm does: stop the run (the default) or skip the update.</summary>
    public NonFiniteAction OnNonFinite { get; init; }

    /// <summary>The loss.</summary>
    public LossKind Loss { get; init; } = LossKind.Mse;

    /// <summary>
    /// Cross-entropy only: one weight per class (<c>torch.nn.CrossEntropyLoss(weight=w)</c>: each
    /// row's loss times the weight of its class, the sum divided by the rows' summed weights), or
    /// null for none. Validation losses are weighted the same way.
    /// </summary>
    public IReadOnlyList<double>? ClassWeights { get; init; }

    /// <summary>Validate every this many steps, and after the last (0 = only after the last, when a validation set is given).</summary>
    public int ValidateEvery { get; init; }

    /// <summary>Early stopping: stop after this many validations in a row without a new best loss (0 = off).</summary>
    public int Patience { get; init; }

    /// <summary>When training ends with a best validation loss, copy the best step's weights back into the model.</summary>
    public bool RestoreBest { get; init; }

    /// <summary>Write <c>last/</c> every this many steps (0 = only when training ends); needs <see cref="CheckpointDirectory"/>.</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>Where <c>last/</c> and <c>best/</c> are written, or null for no checkpoints.</summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>Files copied (by name) into every checkpoint: a model configuration, a vocabulary, normalization statistics.</summary>
    public IReadOnlyList<string> ExtraFiles { get; init; } = [];

    /// <summary>Seeds the order of the batches and every step's dropout masks.</summary>
    public int Seed { get; init; }

    /// <summary>
    /// The precision of the devices' float32 matrix products (<see cref="Devices.ComputeDevice.Precision"/>;
    /// recorded with the run, so a resumed run opens its devices at it). The caller opens the devices.
    /// </summary>
    public GemmPrecision Precision { get; init; }

    /// <summary>
    /// Data parallel: the names of the devices the replicas run on, replica 0 first (recorded with
    /// the run; the trainer checks there is one replica per name), or null for one device.
    /// </summary>
    public IReadOnlyList<string>? Devices { get; init; }

    /// <summary>
    /// Data parallel: rows of each batch per replica (each ≥ 1, one per device, summing to
    /// <see cref="BatchSize"/>), or null to measure them from the devices' speeds (one device takes the whole batch).
    /// </summary>
    public IReadOnlyList<int>? Shards { get; init; }

    /// <summary>Throws <see cref="LstmException"/> naming the first setting out of range.</summary>
    public void Validate()
    {
        static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        if (Steps < 0 || Epochs < 0)
            throw new LstmException($"trainer: steps ({Steps}) and epochs ({Epochs}) must be ≥ 0");
        if (BatchSize <= 0 || ValidationBatchSize < 0)
            throw new LstmException($"trainer: batch size ({BatchSize}) must be > 0 and validation batch size ({ValidationBatchSize}) ≥ 0");
        if (!(LearningRate >= 0) || double.IsInfinity(LearningRate))
            throw new LstmException($"trainer: learning rate {F(LearningRate)} must be a finite number ≥ 0");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay))
            throw new LstmException($"trainer: weight decay {F(WeightDecay)} must be a finite number ≥ 0");
        if (!(ClipNorm >= 0) || double.IsInfinity(ClipNorm))
            throw new LstmException($"trainer: clip norm {F(ClipNorm)} must be a finite number ≥ 0 (0 = off)");
        if (WarmupSteps < 0 || ScheduleStepSize <= 0)
            throw new LstmException($"trainer: warm-up steps ({WarmupSteps}) must be ≥ 0 and the schedule's step size ({ScheduleStepSize}) > 0");
        if (ValidateEvery < 0 || Patience < 0 || CheckpointEvery < 0)
            throw new LstmException($"trainer: validate every ({ValidateEvery}), patience ({Patience}) and checkpoint every ({CheckpointEvery}) must be ≥ 0");
        if (CheckpointEvery > 0 && CheckpointDirectory is null)
            throw new LstmException($"trainer: checkpoint every {CheckpointEvery} steps needs a checkpoint directory");
        if (CheckpointDirectory is { Length: 0 })
            throw new LstmException("trainer: the checkpoint directory is an empty path");
        if (Devices is { } devices)
        {
            if (devices.Count == 0)
                throw new LstmException("trainer: the device list is empty");
            if (devices.Any(string.IsNullOrWhiteSpace))
                throw new LstmException($"trainer: the device list '{string.Join(",", devices)}' has an empty name");
        }

        if (Shards is { } shards)
            DataParallel<double>.CheckShards(shards, Devices?.Count ?? shards.Count, BatchSize);
        if (ClassWeights is { } weights)
        {
            if (Loss != LossKind.CrossEntropy)
                throw new LstmException($"trainer: class weights are for the cross-entropy loss, not {Loss}");
            if (weights.Count == 0 || weights.Any(w => !(w >= 0) || double.IsInfinity(w)) || !(weights.Sum() > 0))
                throw new LstmException($"trainer: class weights ({string.Join(",", weights.Select(F))}) must be finite numbers ≥ 0, not all 0");
        }
        ArgumentNullException.ThrowIfNull(ExtraFiles);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (string file in ExtraFiles)
        {
            string name = Path.GetFileName(file);
            if (name.Length == 0)
                throw new LstmException($"trainer: extra file '{file}' has no file name");
            if (TrainingCheckpoint.ReservedNames.Contains(name))
                throw new LstmException($"trainer: extra file '{file}' would overwrite the checkpoint's own {name}");
            if (!names.Add(name))
                throw new LstmException($"trainer: two extra files are named {name}");
        }
    }

    /// <summary>The optimizer these settings describe, over the model's named parameters.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="parameters">Names and parameters.</param>
    public Optimizer<T> CreateOptimizer<T>(IEnumerable<(string Name, Parameter<T> Parameter)> parameters) where T : unmanaged => Optimizer switch
    {
        OptimizerKind.Sgd => new Sgd<T>(parameters, LearningRate, Momentum, Dampening, WeightDecay, Nesterov),
        OptimizerKind.Adam => new Adam<T>(parameters, LearningRate, Beta1, Beta2, Eps, WeightDecay, decoupled: false),
        OptimizerKind.AdamW => new Adam<T>(parameters, LearningRate, Beta1, Beta2, Eps, WeightDecay, decoupled: true),
        _ => throw new LstmException($"trainer: unknown optimizer {Optimizer}"),
    };

    /// <summary>The schedule these settings describe for a run of <paramref name="totalSteps"/> updates.</summary>
    /// <param name="totalSteps">Updates in the whole run (the cosine schedule spans those after warm-up).</param>
    public LearningRateSchedule CreateSchedule(long totalSteps)
    {
        LearningRateSchedule after = Schedule switch
        {
            ScheduleKind.Constant => new ConstantSchedule(LearningRate),
            ScheduleKind.Step => new StepSchedule(LearningRate, ScheduleStepSize, ScheduleGamma),
            ScheduleKind.Cosine => new CosineSchedule(LearningRate, Math.Max(1, totalSteps - WarmupSteps), MinLearningRate),
            _ => throw new LstmException($"trainer: unknown schedule {Schedule}"),
        };
        return WarmupSteps > 0 ? new WarmupSchedule(WarmupSteps, after, WarmupStartFactor) : after;
    }
}

/// <summary>One training step as <see cref="Trainer{T}"/> reports it.</summary>
/// <param name="Step">Steps done, counting this one.</param>
/// <param name="Epoch">The epoch this step's batch came from (0-based).</param>
/// <param name="TrainLoss">This step's batch loss.</param>
/// <param name="LearningRate">The rate this step's update used.</param>
/// <param name="GradNorm">The gradients' global 2-norm before clipping.</param>
/// <param name="ValidationLoss">The mean loss over the whole validation set when this step validated, else null.</param>
/// <param name="Elapsed">Time since this run (or resumed run) began.</param>
/// <param name="StepsPerSecond">Steps of this run per second so far.</param>
public sealed record TrainerProgress(
    long Step, long Epoch, double TrainLoss, double LearningRate, double GradNorm, double? ValidationLoss,
    TimeSpan Elapsed, double StepsPerSecond);

/// <summary>How a <see cref="Trainer{T}.Run"/> ended.</summary>
/// <param name="Steps">Steps done in total (including those before a resume).</param>
/// <param name="StoppedEarly">True when early stopping ended it.</param>
/// <param name="BestValidationLoss">The best validation loss so far, or null when none was computed.</param>
/// <param name="BestStep">The step of the best validation loss (0 when none).</param>
/// <param name="Elapsed">Time this run took.</param>
/// <param name="NonFinite">The step that stopped the run with a non-finite loss or gradient norm (<see cref="NonFiniteAction.Stop"/>), else null.</param>
/// <param name="SkippedSteps">Steps of this run whose update was skipped (<see cref="NonFiniteAction.Skip"/>).</param>
public sealed record TrainerResult(long Steps, bool StoppedEarly, double? BestValidationLoss, long BestStep, TimeSpan Elapsed, NonFiniteStep? NonFinite = null, long SkippedSteps = 0);

/// <summary>A training step whose numbers were not finite.</summary>
/// <param name="Step">The step (1-based) that produced them.</param>
/// <param name="TrainLoss">Its batch loss.</param>
/// <param name="GradNorm">Its gradients' global 2-norm (NaN when it was not computed).</param>
/// <param name="ValidationLoss">The validation loss after it, when that is what was not finite; else null.</param>
/// <param name="CheckpointWritten">Whether <c>last/</c> was written with the state the run stopped in (false: its weights were not finite either, so the previous <c>last/</c> is kept).</param>
public sealed record NonFiniteStep(long Step, double TrainLoss, double GradNorm, double? ValidationLoss, bool CheckpointWritten)
{
    /// <summary>What was not finite, e.g. <c>step 33: the training loss is Infinity (gradient norm NaN)</c>.</summary>
    public string Describe()
    {
        static string F(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
        return ValidationLoss is { } v
            ? $"step {Step}: the validation loss is {F(v)}"
            : !double.IsFinite(TrainLoss)
                ? $"step {Step}: the training loss is {F(TrainLoss)} (gradient norm {F(GradNorm)})"
                : $"step {Step}: the gradient norm is {F(GradNorm)} (training loss {F(TrainLoss)})";
    }
}

using System.Globalization;
using Lstm.Kernels.Gemm;
using Lstm.Runtime.Data;
using Lstm.Runtime.Nn;

namespace Lstm.Runtime.Training;

/// <summary>
/// The settings of a training run as <c>lstm train</c> states them, each optional: null takes the
/// default of <see cref="TrainingDefaults"/> (or, resuming, the run's own). They are named and
/// checked in the command line's vocabulary: a message names the option and its value
/// (<c>--dropout 1.5: …</c>). <see cref="Validate"/> checks every rule the settings follow by
/// themselves; <see cref="TrainingRun"/> resolves them against the data into a
/// <see cref="ModelConfig"/> and <see cref="TrainerOptions"/>, checking what needs the data.
/// </summary>
public sealed record TrainingRunSettings
{
    /// <summary>Where the samples come from (its seed is the run's), or null when no data option is given: the default task for a new run, the run's own data when resuming.</summary>
    public DataSpec? Data { get; init; }

    /// <summary><c>--cell</c>: lstm, gru, rnn-tanh or rnn-relu.</summary>
    public string? Cell { get; init; }

    /// <summary><c>--layers</c>: L.</summary>
    public int? Layers { get; init; }

    /// <summary><c>--hidden</c>: H.</summary>
    public int? Hidden { get; init; }

    /// <summary><c>--bidirectional</c>.</summary>
    public bool Bidirectional { get; init; }

    /// <summary><c>--dropout</c>: p between layers.</summary>
    public double? Dropout { get; init; }

    /// <summary><c>--proj-size</c>: P of an LSTM.</summary>
    public int? ProjSize { get; init; }

    /// <summary><c>--embedding-dim</c>: E of a model of tokens.</summary>
    public int? EmbeddingDim { get; init; }

    /// <summary><c>--steps</c>.</summary>
    public int? Steps { get; init; }

    /// <summary><c>--epochs</c> (instead of <see cref="Steps"/>).</summary>
    public int? Epochs { get; init; }

    /// <summary><c>--batch-size</c>: B.</summary>
    public int? BatchSize { get; init; }

    /// <summary><c>--optimizer</c>: adam, adamw or sgd.</summary>
    public string? Optimizer { get; init; }

    /// <summary><c>--lr</c>.</summary>
    public double? LearningRate { get; init; }

    /// <summary><c>--weight-decay</c>.</summary>
    public double? WeightDecay { get; init; }

    /// <summary><c>--momentum</c> (sgd only).</summary>
    public double? Momentum { get; init; }

    /// <summary><c>--schedule</c>: constant, cosine or step.</summary>
    public string? Schedule { get; init; }

    /// <summary><c>--warmup</c>: steps of linear warm-up.</summary>
    public int? Warmup { get; init; }

    /// <summary><c>--clip</c>: the global gradient-norm clip.</summary>
    public double? Clip { get; init; }

    /// <summary><c>--on-nonfinite</c>: stop or skip (a step whose loss or gradient norm is NaN or infinite).</summary>
    public string? OnNonFinite { get; init; }

    /// <summary><c>--patience</c>: validations without a new best before stopping.</summary>
    public int? Patience { get; init; }

    /// <summary><c>--validate-every</c>.</summary>
    public int? ValidateEvery { get; init; }

    /// <summary><c>--checkpoint-every</c>.</summary>
    public int? CheckpointEvery { get; init; }

    /// <summary><c>--seed</c>.</summary>
    public int? Seed { get; init; }

    /// <summary><c>--precision</c>: the arithmetic of float32 matrix products.</summary>
    public GemmPrecision? Precision { get; init; }

    /// <summary><c>--device</c>: the one device.</summary>
    public string? Device { get; init; }

    /// <summary><c>--devices</c>: data parallel over these devices, comma-separated.</summary>
    public string? Devices { get; init; }

    /// <summary><c>--shards</c>: rows of each batch per device, comma-separated.</summary>
    public string? Shards { get; init; }

    /// <summary><c>--placement</c>: one device per layer, comma-separated.</summary>
    public string? Placement { get; init; }

    /// <summary><c>--chunk-steps</c>: time steps per pipeline chunk.</summary>
    public int? ChunkSteps { get; init; }

    /// <summary><c>--out</c>: the new run's folder.</summary>
    public string? Out { get; init; }

    /// <summary><c>--resume</c>: the run folder to continue.</summary>
    public string? Resume { get; init; }

    /// <summary><c>--until-step</c>: stop after this many steps in all.</summary>
    public int? UntilStep { get; init; }

    /// <summary><c>--log-every</c>: steps between progress lines.</summary>
    public int? LogEvery { get; init; }

    /// <summary><c>--save</c>: also write the trained weights to this safetensors file.</summary>
    public string? Save { get; init; }

    /// <summary>
    /// Throws <see cref="LstmException"/> naming the first option that breaks a rule the settings
    /// follow by themselves: a count below 1, a negative rate, <c>--steps</c> with <c>--epochs</c>,
    /// <c>--momentum</c> without sgd, the devices, shards and placement not fitting together, a
    /// setting given to <c>--resume</c> that a resumed run cannot change. The rules that need the
    /// data (the batch against the samples, an embedding for tokens, the model's own rules) are
    /// checked when the run resolves the settings.
    /// </summary>
    public void Validate()
    {
        if (LogEvery is < 1)
            throw new LstmException($"--log-every {LogEvery}: must be ≥ 1");
        if (UntilStep is < 1)
            throw new LstmException($"--until-step {UntilStep}: must be ≥ 1");
        NonNegative("--lr", LearningRate);
        NonNegative("--clip", Clip);
        if (OnNonFinite is { } action)
            _ = TrainingSettings.ParseNonFinite(action);
        if (Resume is not null)
        {
            ValidateResume();
            return;
        }

        _ = CellOption();
        Positive("--hidden", Hidden);
        Positive("--layers", Layers);
        Positive("--embedding-dim", EmbeddingDim);
        AtMost("--hidden", Hidden, ModelConfig.MaxSize);
        AtMost("--layers", Layers, ModelConfig.MaxLayers);
        AtMost("--embedding-dim", EmbeddingDim, ModelConfig.MaxSize);
        AtMost("--proj-size", ProjSize, ModelConfig.MaxSize);
        var optimizer = OptimizerOption();
        _ = TrainingSettings.ParseSchedule(Schedule ?? TrainingDefaults.Schedule);
        int batch = BatchSize ?? TrainingDefaults.BatchSize;
        Positive("--batch-size", batch);
        AtMost("--batch-size", batch, MaxBatchSize);
        if (Steps is not null && Epochs is not null)
            throw new LstmException($"--steps {Steps} and --epochs {Epochs}: give one of them");
        Positive("--steps", Steps);
        Positive("--epochs", Epochs);
        if (Momentum is { } m && optimizer != OptimizerKind.Sgd)
            throw new LstmException($"--momentum {F(m)}: applies to --optimizer sgd only");
        Positive("--validate-every", ValidateEvery);
        Positive("--checkpoint-every", CheckpointEvery);
        NonNegative("--warmup", Warmup);
        NonNegative("--patience", Patience);
        NonNegative("--weight-decay", WeightDecay);
        NonNegative("--momentum", Momentum);
        _ = DeviceNames(ParseShards(), batch, resumed: false);
        _ = PlacementNames(Layers ?? TrainingDefaults.Layers);
        if (Save is { } save)
            CheckWritable(save, "--save");
    }

    /// <summary>
    /// A resumed run keeps its settings: only the devices, the pipeline's chunks, the stopping step
    /// and the output may change, and the learning rate, the clip and the non-finite action (to
    /// continue a run a non-finite step stopped).
    /// </summary>
    private void ValidateResume()
    {
        var given = new (string Option, object? Value)[]
        {
            ("--cell", Cell), ("--layers", Layers), ("--hidden", Hidden), ("--bidirectional", Bidirectional ? true : null), ("--dropout", Dropout),
            ("--proj-size", ProjSize), ("--embedding-dim", EmbeddingDim), ("--epochs", Epochs), ("--batch-size", BatchSize),
            ("--optimizer", Optimizer), ("--weight-decay", WeightDecay), ("--momentum", Momentum), ("--schedule", Schedule),
            ("--warmup", Warmup), ("--patience", Patience), ("--validate-every", ValidateEvery), ("--checkpoint-every", CheckpointEvery),
            ("--seed", Seed), ("--out", Out), ("--shards", Shards), ("--precision", Precision),
        }.Where(p => p.Value is not null).Select(p => p.Option).ToList();
        if (Data is not null)
            given.Insert(0, "data options");
        if (given.Count > 0)
            throw new LstmException($"--resume {Resume}: continues with the run's own settings; {string.Join(", ", given)} cannot be changed (only --device, --devices, --placement, --chunk-steps, --until-step, --log-every, --quiet, --lr, --clip, --on-nonfinite and --steps)");
        Positive("--steps", Steps);
    }

    /// <summary>The <c>config.json</c> fields (<c>training.lr</c> …) that this resume sets from its own options.</summary>
    internal IReadOnlySet<string> ResumeFields()
    {
        var fields = new HashSet<string>(StringComparer.Ordinal);
        if (LearningRate is not null)
            fields.Add("training.lr");
        if (Clip is not null)
            fields.Add("training.clip");
        if (OnNonFinite is not null)
            fields.Add("training.on_nonfinite");
        if (Steps is not null)
        {
            // --steps sets the run's length in steps, replacing an --epochs count.
            fields.Add("training.steps");
            fields.Add("training.epochs");
        }

        return fields;
    }

    /// <summary>A resumed run's trainer settings with <c>--lr</c>, <c>--clip</c>, <c>--on-nonfinite</c> and <c>--steps</c> (a finished run extended) applied, checked; null when none of them changes anything.</summary>
    /// <param name="training">The run's own settings.</param>
    internal TrainerOptions? ResumeChanges(TrainerOptions training)
    {
        var changed = training with
        {
            LearningRate = LearningRate ?? training.LearningRate,
            ClipNorm = Clip ?? training.ClipNorm,
            OnNonFinite = OnNonFinite is { } action ? TrainingSettings.ParseNonFinite(action) : training.OnNonFinite,
            Steps = Steps ?? training.Steps,
            Epochs = Steps is null ? training.Epochs : 0,
        };
        if (changed == training)
            return null;
        (changed with { CheckpointDirectory = "." }).Validate();
        return changed;
    }

    /// <summary>The model the settings describe for the data, checked (its dropout and projection by the recurrent layer's own rules).</summary>
    internal ModelConfig ModelFor(PreparedData data)
    {
        var cell = CellOption();
        int hidden = Hidden ?? TrainingDefaults.HiddenFor(data.Spec.Source);
        int layers = Layers ?? TrainingDefaults.Layers;
        double dropout = Dropout ?? 0;
        int proj = ProjSize ?? 0;
        ModelConfig config;
        if (data.Tokens)
        {
            if (Bidirectional)
                throw new LstmException("--bidirectional: a model of tokens generates left to right, which a bidirectional layer cannot (its reverse direction reads the future)");
            config = ModelConfig.LanguageModel(cell, data.Classes, EmbeddingDim ?? TrainingDefaults.EmbeddingDim, hidden, layers, dropout, proj);
        }
        else
        {
            if (EmbeddingDim is { } e)
                throw new LstmException($"--embedding-dim {e}: only models of tokens (--text, --task copy) have an embedding");
            config = new ModelConfig(ModelKind.SequenceToOne, cell, data.Train.InputSize, hidden, data.Train.TargetLength, layers, Bias: true, Bidirectional, dropout, proj);
        }

        try
        {
            config.Validate();
        }
        catch (LstmException e)
        {
            throw OptionError(config, e);
        }

        int batch = BatchSize ?? TrainingDefaults.BatchSize;
        var optimizer = OptimizerOption();
        TrainingMemory.Check(
            config, Math.Max(batch, TrainingDefaults.ValidationBatchSize(batch, data.Validation.Count)), data.Train.Steps, optimizer,
            Momentum ?? 0, "--hidden, --layers, --batch-size and the sequence length");
        return config;
    }

    /// <summary>
    /// The message of a model the options describe that breaks a rule of <see cref="ModelConfig.Validate"/>,
    /// in the options' words: which option is at fault is found by the same rules, with it set to its neutral value.
    /// </summary>
    private static LstmException OptionError(ModelConfig config, LstmException e)
    {
        static bool Valid(ModelConfig c)
        {
            try
            {
                c.Validate();
                return true;
            }
            catch (LstmException)
            {
                return false;
            }
        }

        if (config.Dropout != 0 && Valid(config with { Dropout = 0 }))
            return new LstmException($"--dropout {F(config.Dropout)}: must lie in [0, 1)", e);
        if (config.ProjSize != 0 && Valid(config with { ProjSize = 0 }))
        {
            return ModelConfig.ProjectionError(config.Cell, config.ProjSize) is not null
                ? new LstmException($"--proj-size {config.ProjSize}: only an LSTM has a projection (--cell {ModelConfig.CellName(config.Cell)})", e)
                : new LstmException($"--proj-size {config.ProjSize}: must be 0 (none) or lie in [1, --hidden {config.HiddenSize})", e);
        }

        return e;
    }

    /// <summary>The trainer settings for the data (without the run folder), checked.</summary>
    internal TrainerOptions TrainerFor(PreparedData data, int seed)
    {
        var optimizer = OptimizerOption();
        var schedule = TrainingSettings.ParseSchedule(Schedule ?? TrainingDefaults.Schedule);
        int batch = BatchSize ?? TrainingDefaults.BatchSize;
        int trainCount = data.Train.Count;
        if (batch > trainCount)
            throw new LstmException($"--batch-size {batch}: larger than the {trainCount} training samples ({data.Summary})");
        int steps = Steps ?? TrainingDefaults.Steps;
        int epochs = Epochs ?? 0;
        long total = epochs > 0 ? (long)epochs * (trainCount / batch) : steps;
        if (total > int.MaxValue)
            throw new LstmException($"--epochs {epochs}: {total} steps are too many");
        int validateEvery = ValidateEvery ?? TrainingDefaults.ValidateEvery(total);
        var options = new TrainerOptions
        {
            Steps = epochs > 0 ? 0 : steps,
            Epochs = epochs,
            BatchSize = batch,
            ValidationBatchSize = TrainingDefaults.ValidationBatchSize(batch, data.Validation.Count),
            Optimizer = optimizer,
            LearningRate = LearningRate ?? TrainingDefaults.LearningRate(optimizer),
            Momentum = Momentum ?? 0,
            WeightDecay = WeightDecay ?? TrainingDefaults.WeightDecay(optimizer),
            Schedule = schedule,
            ScheduleStepSize = TrainingDefaults.ScheduleStepSize(total),
            WarmupSteps = Warmup ?? 0,
            ClipNorm = Clip ?? TrainingDefaults.Clip,
            OnNonFinite = OnNonFinite is { } action ? TrainingSettings.ParseNonFinite(action) : NonFiniteAction.Stop,
            Loss = data.Tokens ? LossKind.CrossEntropy : LossKind.Mse,
            ValidateEvery = validateEvery,
            Patience = Patience ?? 0,
            CheckpointEvery = CheckpointEvery ?? validateEvery,
            Seed = seed,
            Precision = Precision ?? GemmPrecision.Fp32,
        };
        (options with { CheckpointDirectory = "." }).Validate(); // The run folder comes later.
        return options;
    }

    /// <summary>
    /// The trainer settings with the devices of <c>--devices</c> and the rows of <c>--shards</c>
    /// (a resumed run: its own shards, which <c>--devices</c> must fit); unchanged without <c>--devices</c>.
    /// </summary>
    internal TrainerOptions WithDevices(TrainerOptions training)
    {
        bool resumed = Resume is not null;
        var shards = resumed ? training.Shards?.ToArray() : ParseShards();
        return DeviceNames(shards, training.BatchSize, resumed) is { } names ? training with { Devices = names, Shards = shards } : training;
    }

    /// <summary>The names of <c>--devices</c>, checked with the shards and the batch; null without <c>--devices</c>.</summary>
    private string[]? DeviceNames(int[]? shards, int batch, bool resumed)
    {
        if (Devices is null)
        {
            if (Shards is not null && !resumed)
                throw new LstmException($"--shards {Shards}: needs --devices (the rows of each batch per device)");
            return null;
        }

        if (Device is not null)
            throw new LstmException($"--device {Device} and --devices {Devices}: give one of them (--devices trains data-parallel on several)");
        var names = Names(Devices, "--devices");
        if (shards is not null)
        {
            try
            {
                DataParallel<double>.CheckShards(shards, names.Length, batch);
            }
            catch (LstmException e)
            {
                string which = resumed ? $"(the run's shards {string.Join(",", shards)})" : $"--shards {string.Join(",", shards)}";
                throw new LstmException($"--devices {Devices} {which}: {e.Message}", e);
            }
        }
        else if (batch < names.Length)
        {
            throw new LstmException($"--devices {Devices}: a batch of {batch} cannot give each of {names.Length} devices a row");
        }

        return names;
    }

    /// <summary>The rows of <c>--shards</c>, or null.</summary>
    private int[]? ParseShards()
    {
        if (Shards is null)
            return null;
        var parts = Shards.Split(',');
        var shards = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out shards[i]))
                throw new LstmException($"--shards {Shards}: '{parts[i]}' is not a whole number ≥ 0 (expected rows per device separated by commas, e.g. 24,8)");
        }

        return shards;
    }

    /// <summary>The device names of one network: <c>--placement</c>'s, one per layer, or <c>--device</c>'s (auto by default).</summary>
    internal IReadOnlyList<string> PlacementFor(ModelConfig model) => PlacementNames(model.NumLayers);

    private string[] PlacementNames(int layers)
    {
        if (ChunkSteps is { } chunk)
        {
            if (Placement is null)
                throw new LstmException($"--chunk-steps {chunk}: applies with --placement only");
            Positive("--chunk-steps", chunk);
        }

        if (Placement is null)
            return [Device ?? "auto"];
        if (Device is not null)
            throw new LstmException($"--placement {Placement} and --device {Device}: give one of them");
        if (Devices is not null)
            throw new LstmException($"--placement {Placement} and --devices {Devices}: give one of them (a layer pipeline is not replicated data-parallel)");
        var names = Names(Placement, "--placement");
        if (names.Length != layers)
            throw new LstmException($"--placement {Placement} names {names.Length} device{(names.Length == 1 ? "" : "s")} but the model has {layers} layer{(layers == 1 ? "" : "s")} (--layers): give one device per layer");
        return names;
    }

    private static string[] Names(string list, string option)
    {
        var names = list.Split(',').Select(n => n.Trim()).ToArray();
        if (names.Any(n => n.Length == 0))
            throw new LstmException($"{option} {list}: a device name is empty (expected names separated by commas, e.g. cpu,ilgpu-cpu)");
        return names;
    }

    private CellKind CellOption()
    {
        string name = (Cell ?? TrainingDefaults.Cell).Trim().ToLowerInvariant();
        if (name is not ("lstm" or "gru" or "rnn-tanh" or "rnn-relu"))
            throw new LstmException($"--cell {Cell}: expected lstm, gru, rnn-tanh or rnn-relu");
        return ModelConfig.ParseCell(name);
    }

    private OptimizerKind OptimizerOption() => TrainingSettings.ParseOptimizer(Optimizer ?? TrainingDefaults.Optimizer);

    private static void CheckWritable(string path, string option)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null && !Directory.Exists(dir))
            throw new LstmException($"{option} {path}: the folder {dir} does not exist");
        if (Directory.Exists(path))
            throw new LstmException($"{option} {path}: is a folder");
    }

    /// <summary>The largest batch: 2²⁴ samples.</summary>
    public const int MaxBatchSize = 1 << 24;

    private static void AtMost(string option, int? value, int max)
    {
        if (value > max)
            throw new LstmException($"{option} {value}: must be ≤ {max}");
    }

    private static void Positive(string option, int? value)
    {
        if (value is < 1)
            throw new LstmException($"{option} {value}: must be ≥ 1");
    }

    private static void NonNegative(string option, double? value)
    {
        if (value is { } v && !(v >= 0 && double.IsFinite(v)))
            throw new LstmException($"{option} {F(v)}: must be a finite number ≥ 0");
    }

    private static string F(double v) => v.ToString(CultureInfo.InvariantCulture);
}

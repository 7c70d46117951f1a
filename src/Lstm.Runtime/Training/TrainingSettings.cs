using System.Globalization;
using System.Text.Json.Nodes;
using Lstm.Runtime.Devices;

namespace Lstm.Runtime.Training;

/// <summary>The <c>training</c> section of a run's <c>config.json</c>: a <see cref="TrainerOptions"/> without its paths, as snake_case JSON.</summary>
public static class TrainingSettings
{
    private static readonly (OptimizerKind Kind, string Name)[] Optimizers = [(OptimizerKind.Adam, "adam"), (OptimizerKind.AdamW, "adamw"), (OptimizerKind.Sgd, "sgd")];
    private static readonly (ScheduleKind Kind, string Name)[] Schedules = [(ScheduleKind.Constant, "constant"), (ScheduleKind.Cosine, "cosine"), (ScheduleKind.Step, "step")];

    /// <summary>The optimizer named <paramref name="name"/> (adam, adamw, sgd).</summary>
    /// <param name="name">The name, as <c>--optimizer</c> and <c>config.json</c> spell it.</param>
    /// <exception cref="LstmException">Not one of them.</exception>
    public static OptimizerKind ParseOptimizer(string name) =>
        Optimizers.FirstOrDefault(o => o.Name == name.Trim().ToLowerInvariant()) is { Name: not null } o
            ? o.Kind
            : throw new LstmException($"--optimizer {name}: expected {string.Join(", ", Optimizers.Select(x => x.Name))}");

    /// <summary>The schedule named <paramref name="name"/> (constant, cosine, step).</summary>
    /// <param name="name">The name, as <c>--schedule</c> and <c>config.json</c> spell it.</param>
    /// <exception cref="LstmException">Not one of them.</exception>
    public static ScheduleKind ParseSchedule(string name) =>
        Schedules.FirstOrDefault(s => s.Name == name.Trim().ToLowerInvariant()) is { Name: not null } s
            ? s.Kind
            : throw new LstmException($"--schedule {name}: expected {string.Join(", ", Schedules.Select(x => x.Name))}");

    /// <summary>What to do on a non-finite step, by name (stop, skip).</summary>
    /// <param name="name">The name, as <c>--on-nonfinite</c> and <c>config.json</c> spell it.</param>
    /// <exception cref="LstmException">Not one of them.</exception>
    public static NonFiniteAction ParseNonFinite(string name) => name.Trim().ToLowerInvariant() switch
    {
        "stop" => NonFiniteAction.Stop,
        "skip" => NonFiniteAction.Skip,
        _ => throw new LstmException($"--on-nonfinite {name}: expected stop or skip"),
    };

    /// <summary>The name of a non-finite action.</summary>
    /// <param name="action">The action.</param>
    public static string NonFiniteName(NonFiniteAction action) => action == NonFiniteAction.Skip ? "skip" : "stop";

    /// <summary>The name of an optimizer.</summary>
    /// <param name="kind">The optimizer.</param>
    public static string Name(OptimizerKind kind) => Optimizers.First(o => o.Kind == kind).Name;

    /// <summary>The name of a schedule.</summary>
    /// <param name="kind">The schedule.</param>
    public static string Name(ScheduleKind kind) => Schedules.First(s => s.Kind == kind).Name;

    /// <summary>The settings as the <c>training</c> section of a run's <c>config.json</c>.</summary>
    /// <param name="o">The settings.</param>
    public static JsonObject ToJson(TrainerOptions o)
    {
        var json = Fields(o);
        json["precision"] = PrecisionNames.Name(o.Precision);
        if (o.Devices is { } devices)
            json["devices"] = new JsonArray(devices.Select(d => (JsonNode?)JsonValue.Create(d)).ToArray());
        if (o.OnNonFinite != NonFiniteAction.Stop)
            json["on_nonfinite"] = NonFiniteName(o.OnNonFinite);
        if (o.Shards is { } shards)
            json["shards"] = new JsonArray(shards.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray());
        return json;
    }

    private static JsonObject Fields(TrainerOptions o) => new()
    {
        ["steps"] = o.Steps,
        ["epochs"] = o.Epochs,
        ["batch_size"] = o.BatchSize,
        ["validation_batch_size"] = o.ValidationBatchSize,
        ["optimizer"] = Name(o.Optimizer),
        ["lr"] = o.LearningRate,
        ["momentum"] = o.Momentum,
        ["weight_decay"] = o.WeightDecay,
        ["schedule"] = Name(o.Schedule),
        ["schedule_step_size"] = o.ScheduleStepSize,
        ["schedule_gamma"] = o.ScheduleGamma,
        ["warmup"] = o.WarmupSteps,
        ["clip"] = o.ClipNorm,
        ["loss"] = o.Loss switch { LossKind.Mse => "mse", LossKind.Ctc => "ctc", _ => "cross-entropy" },
        ["validate_every"] = o.ValidateEvery,
        ["patience"] = o.Patience,
        ["checkpoint_every"] = o.CheckpointEvery,
        ["seed"] = o.Seed,
    };

    /// <summary>Reads a <c>training</c> section written by <see cref="ToJson"/>, validated.</summary>
    /// <param name="json">The section.</param>
    /// <param name="source">Where it came from, for messages.</param>
    /// <exception cref="LstmException">A key is missing or has a bad value.</exception>
    public static TrainerOptions FromJson(JsonObject json, string source)
    {
        T Get<T>(string key)
        {
            try
            {
                var node = json[key] ?? throw new LstmException($"{source}: \"training\" has no \"{key}\"");
                return node.GetValue<T>();
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                throw new LstmException($"{source}: \"training\".\"{key}\" is not a {typeof(T).Name}", e);
            }
        }

        T[] List<T>(string key)
        {
            try
            {
                return json[key]!.AsArray().Select(n => n is null ? throw new FormatException() : n.GetValue<T>()).ToArray();
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                throw new LstmException($"{source}: \"training\".\"{key}\" is not a list of {typeof(T).Name}", e);
            }
        }

        var o = new TrainerOptions
        {
            Steps = Get<int>("steps"),
            Epochs = Get<int>("epochs"),
            BatchSize = Get<int>("batch_size"),
            ValidationBatchSize = Get<int>("validation_batch_size"),
            Optimizer = ParseOptimizer(Get<string>("optimizer")),
            LearningRate = Get<double>("lr"),
            Momentum = Get<double>("momentum"),
            WeightDecay = Get<double>("weight_decay"),
            Schedule = ParseSchedule(Get<string>("schedule")),
            ScheduleStepSize = Get<int>("schedule_step_size"),
            ScheduleGamma = Get<double>("schedule_gamma"),
            WarmupSteps = Get<int>("warmup"),
            ClipNorm = Get<double>("clip"),
            Loss = Get<string>("loss") switch { "mse" => LossKind.Mse, "ctc" => LossKind.Ctc, _ => LossKind.CrossEntropy },
            ValidateEvery = Get<int>("validate_every"),
            Patience = Get<int>("patience"),
            CheckpointEvery = Get<int>("checkpoint_every"),
            Seed = Get<int>("seed"),
            Precision = json["precision"] is null ? GemmPrecision.Fp32 : PrecisionNames.Parse(Get<string>("precision")),
            Devices = json["devices"] is null ? null : List<string>("devices"),
            Shards = json["shards"] is null ? null : List<int>("shards"),
            OnNonFinite = json["on_nonfinite"] is null ? NonFiniteAction.Stop : ParseNonFinite(Get<string>("on_nonfinite")),
        };
        (o with { CheckpointDirectory = "." }).Validate(); // The run folder comes later.
        return o;
    }

    /// <summary>One line describing the settings.</summary>
    /// <param name="o">The settings.</param>
    /// <param name="totalSteps">The steps the run does.</param>
    public static string Describe(TrainerOptions o, long totalSteps)
    {
        var parts = new List<string>
        {
            o.Epochs > 0 ? $"{o.Epochs} epochs ({totalSteps} steps)" : $"{totalSteps} steps",
            $"batch {o.BatchSize}",
            string.Create(CultureInfo.InvariantCulture, $"{Name(o.Optimizer)} lr {o.LearningRate:G4}"),
        };
        if (o.Optimizer == OptimizerKind.Sgd && o.Momentum > 0)
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"momentum {o.Momentum:G4}"));
        if (o.WeightDecay > 0)
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"weight decay {o.WeightDecay:G4}"));
        if (o.Schedule != ScheduleKind.Constant || o.WarmupSteps > 0)
            parts.Add($"{Name(o.Schedule)} schedule" + (o.WarmupSteps > 0 ? $" after {o.WarmupSteps} warm-up steps" : ""));
        if (o.ClipNorm > 0)
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"clip {o.ClipNorm:G4}"));
        parts.Add(o.Loss switch { LossKind.Mse => "MSE loss", LossKind.Ctc => "CTC loss", _ => "cross-entropy loss" });
        if (o.Patience > 0)
            parts.Add($"patience {o.Patience}");
        if (o.OnNonFinite == NonFiniteAction.Skip)
            parts.Add("non-finite steps skipped");
        parts.Add($"seed {o.Seed}");
        return string.Join(", ", parts);
    }
}

/// <summary>
/// The defaults of <c>lstm train</c>'s settings, in one place: the command line's help shows them
/// and a run's settings start from them.
/// </summary>
public static class TrainingDefaults
{
    /// <summary>The recurrent cell.</summary>
    public const string Cell = "lstm";

    /// <summary>H for real-valued data.</summary>
    public const int Hidden = 32;

    /// <summary>H for a text model.</summary>
    public const int TextHidden = 128;

    /// <summary>L.</summary>
    public const int Layers = 2;

    /// <summary>E for a model of tokens.</summary>
    public const int EmbeddingDim = 32;

    /// <summary>B.</summary>
    public const int BatchSize = 32;

    /// <summary>Steps when neither steps nor epochs are given.</summary>
    public const int Steps = 500;

    /// <summary>The optimizer.</summary>
    public const string Optimizer = "adam";

    /// <summary>The learning-rate schedule.</summary>
    public const string Schedule = "constant";

    /// <summary>The learning rate of SGD.</summary>
    public const double SgdLearningRate = 0.1;

    /// <summary>The learning rate of Adam and AdamW.</summary>
    public const double AdamLearningRate = 0.01;

    /// <summary>The weight decay of AdamW (the others: 0).</summary>
    public const double AdamWWeightDecay = 0.01;

    /// <summary>The global gradient-norm clip.</summary>
    public const double Clip = 1.0;

    /// <summary>The seed of the data, the initialization and the batch order.</summary>
    public const int Seed = 1;

    /// <summary>H for data of <paramref name="source"/> (<c>text</c> or another).</summary>
    /// <param name="source">The data spec's source.</param>
    public static int HiddenFor(string source) => source == "text" ? TextHidden : Hidden;

    /// <summary>The learning rate of an optimizer.</summary>
    /// <param name="optimizer">The optimizer.</param>
    public static double LearningRate(OptimizerKind optimizer) => optimizer == OptimizerKind.Sgd ? SgdLearningRate : AdamLearningRate;

    /// <summary>The weight decay of an optimizer.</summary>
    /// <param name="optimizer">The optimizer.</param>
    public static double WeightDecay(OptimizerKind optimizer) => optimizer == OptimizerKind.AdamW ? AdamWWeightDecay : 0;

    /// <summary>Validate every this many steps: a tenth of the run, at least 1.</summary>
    /// <param name="totalSteps">The steps the run does.</param>
    public static int ValidateEvery(long totalSteps) => (int)Math.Max(1, totalSteps / 10);

    /// <summary>The step schedule's period: a third of the run, at least 1.</summary>
    /// <param name="totalSteps">The steps the run does.</param>
    public static int ScheduleStepSize(long totalSteps) => (int)Math.Max(1, totalSteps / 3);

    /// <summary>The validation batch: the training batch, at least 256, at most the validation set.</summary>
    /// <param name="batchSize">B.</param>
    /// <param name="validationSamples">Samples in the validation set.</param>
    public static int ValidationBatchSize(int batchSize, int validationSamples) => Math.Min(Math.Max(batchSize, 256), validationSamples);
}

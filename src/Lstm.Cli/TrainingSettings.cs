using System.Globalization;
using System.Text.Json.Nodes;
using Lstm.Runtime;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Training;

namespace Lstm.Cli;

/// <summary>The <c>training</c> section of a run's <c>config.json</c>: a <see cref="TrainerOptions"/> without its paths, as snake_case JSON.</summary>
internal static class TrainingSettings
{
    private static readonly (OptimizerKind Kind, string Name)[] Optimizers = [(OptimizerKind.Adam, "adam"), (OptimizerKind.AdamW, "adamw"), (OptimizerKind.Sgd, "sgd")];
    private static readonly (ScheduleKind Kind, string Name)[] Schedules = [(ScheduleKind.Constant, "constant"), (ScheduleKind.Cosine, "cosine"), (ScheduleKind.Step, "step")];

    public static OptimizerKind ParseOptimizer(string name) =>
        Optimizers.FirstOrDefault(o => o.Name == name.Trim().ToLowerInvariant()) is { Name: not null } o
            ? o.Kind
            : throw new LstmException($"--optimizer {name}: expected {string.Join(", ", Optimizers.Select(x => x.Name))}");

    public static ScheduleKind ParseSchedule(string name) =>
        Schedules.FirstOrDefault(s => s.Name == name.Trim().ToLowerInvariant()) is { Name: not null } s
            ? s.Kind
            : throw new LstmException($"--schedule {name}: expected {string.Join(", ", Schedules.Select(x => x.Name))}");

    public static string Name(OptimizerKind kind) => Optimizers.First(o => o.Kind == kind).Name;

    public static string Name(ScheduleKind kind) => Schedules.First(s => s.Kind == kind).Name;

    public static JsonObject ToJson(TrainerOptions o)
    {
        var json = Fields(o);
        json["precision"] = PrecisionNames.Name(o.Precision);
        if (o.Devices is { } devices)
            json["devices"] = new JsonArray(devices.Select(d => (JsonNode?)JsonValue.Create(d)).ToArray());
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
        ["loss"] = o.Loss == LossKind.Mse ? "mse" : "cross-entropy",
        ["validate_every"] = o.ValidateEvery,
        ["patience"] = o.Patience,
        ["checkpoint_every"] = o.CheckpointEvery,
        ["seed"] = o.Seed,
    };

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
            Loss = Get<string>("loss") == "mse" ? LossKind.Mse : LossKind.CrossEntropy,
            ValidateEvery = Get<int>("validate_every"),
            Patience = Get<int>("patience"),
            CheckpointEvery = Get<int>("checkpoint_every"),
            Seed = Get<int>("seed"),
            Precision = json["precision"] is null ? GemmPrecision.Fp32 : PrecisionNames.Parse(Get<string>("precision")),
            Devices = json["devices"] is null ? null : List<string>("devices"),
            Shards = json["shards"] is null ? null : List<int>("shards"),
        };
        (o with { CheckpointDirectory = "." }).Validate(); // The run folder comes later.
        return o;
    }

    /// <summary>One line describing the settings.</summary>
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
        parts.Add(o.Loss == LossKind.Mse ? "MSE loss" : "cross-entropy loss");
        if (o.Patience > 0)
            parts.Add($"patience {o.Patience}");
        parts.Add($"seed {o.Seed}");
        return string.Join(", ", parts);
    }
}

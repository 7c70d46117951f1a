using System.Globalization;
using System.Text.Json.Nodes;
using Lstm.Kernels.Gemm;
using Lstm.Runtime;
using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Training;

namespace Lstm.Cli;

/// <summary>
/// <c>lstm train</c>: data from options, a <see cref="SequenceNetwork{T}"/> from the model options,
/// a <see cref="Trainer{T}"/> from the training options, and a run folder
/// (<see cref="RunFolder"/>). Every option and file is checked before the folder is made, so bad
/// input leaves nothing behind; <c>--resume</c> continues a run from its <c>last/</c> checkpoint.
/// </summary>
internal static class TrainCommand
{
    /// <summary>What a run trains: data, model and settings, checked.</summary>
    private sealed record Plan(PreparedData Data, ModelConfig Model, TrainerOptions Training, int Seed);

    public static int Execute(TrainOptions o, IReadOnlyList<string> args, TextWriter stdout, CancellationToken cancel)
    {
        if (o.LogEvery is < 1)
            throw new LstmException($"--log-every {o.LogEvery}: must be ≥ 1");
        if (o.UntilStep is < 1)
            throw new LstmException($"--until-step {o.UntilStep}: must be ≥ 1");
        if (o.DryRun)
            return PrintPlan(o, stdout);
        return o.Resume is null ? New(o, args, stdout, cancel) : Resume(o, stdout, cancel);
    }

    private static int New(TrainOptions o, IReadOnlyList<string> args, TextWriter stdout, CancellationToken cancel)
    {
        int seed = o.Seed ?? TrainingDefaults.Seed;
        var spec = o.ToSpec(seed);
        var data = spec.Prepare();
        var model = ModelFor(o, data);
        var training = WithDevices(o, TrainingFor(o, data, seed));
        var placement = PlacementFor(o, model);
        if (o.Save is { } save)
            CheckWritable(save, "--save");
        string path = o.Out ?? RunFolder.DefaultPath(spec.Name, DateTime.Now);
        RunFolder.CheckNew(path);
        using var devices = new DeviceSet(training.Devices ?? placement, training.Precision);

        // Everything is checked: from here on the run folder exists. Should the model or trainer
        // still refuse the settings before a checkpoint is written, the folder goes again.
        var folder = RunFolder.Create(path);
        try
        {
            folder.WriteText(RunFiles.Command, CommandLineText.Format(args) + "\n");
            var config = new RunConfig((JsonObject)JsonNode.Parse(model.ToJson())!, spec, TrainingSettings.ToJson(training));
            folder.WriteConfig(config);
            folder.WriteText(RunFiles.Metrics, "");
            var extra = folder.CreateModelDirectory(model, data);
            training = training with { CheckpointDirectory = folder.Path, ExtraFiles = extra };
            // Measured shards are recorded once known, so that --resume reuses them.
            Action<Trainer<float>> started = t => folder.WriteConfig(config with { Training = TrainingSettings.ToJson(training with { Shards = t.Shards.ToArray() }) });
            return Train(new Plan(data, model, training, seed), folder, devices, resume: false, o, stdout, cancel, training.Devices is null ? null : started);
        }
        catch (LstmException) when (!folder.HasCheckpoint)
        {
            folder.Discard();
            throw;
        }
    }

    private static int Resume(TrainOptions o, TextWriter stdout, CancellationToken cancel)
    {
        var given = new (string Option, object? Value)[]
        {
            ("--cell", o.Cell), ("--layers", o.Layers), ("--hidden", o.Hidden), ("--bidirectional", o.Bidirectional ? true : null), ("--dropout", o.Dropout),
            ("--proj-size", o.ProjSize), ("--embedding-dim", o.EmbeddingDim), ("--steps", o.Steps), ("--epochs", o.Epochs), ("--batch-size", o.BatchSize),
            ("--optimizer", o.Optimizer), ("--lr", o.LearningRate), ("--weight-decay", o.WeightDecay), ("--momentum", o.Momentum), ("--schedule", o.Schedule),
            ("--warmup", o.Warmup), ("--clip", o.Clip), ("--patience", o.Patience), ("--validate-every", o.ValidateEvery), ("--checkpoint-every", o.CheckpointEvery),
            ("--seed", o.Seed), ("--out", o.Out), ("--shards", o.Shards), ("--precision", o.Precision),
        }.Where(p => p.Value is not null).Select(p => p.Option).ToList();
        if (o.AnyData)
            given.Insert(0, "data options");
        if (given.Count > 0)
            throw new LstmException($"--resume {o.Resume}: continues with the run's own settings; {string.Join(", ", given)} cannot be changed (only --device, --devices, --placement, --chunk-steps, --until-step, --log-every and --quiet)");
        var folder = RunFolder.Open(o.Resume!, "--resume");
        string configPath = folder[RunFiles.RunConfig];
        var config = folder.ReadConfig();
        var model = ModelConfig.FromJson(config.Model.ToJsonString(), configPath);
        var training = TrainingSettings.FromJson(config.Training, configPath);
        string last = folder[RunFiles.LastCheckpoint];
        if (!File.Exists(Path.Combine(last, RunFiles.TrainerState)))
            throw new LstmException($"--resume {o.Resume}: no {RunFiles.LastCheckpoint}/ checkpoint to continue from");
        var data = config.Data.Prepare();
        var extra = folder.ModelDirectoryFiles();
        training = training with { CheckpointDirectory = folder.Path, ExtraFiles = extra };
        // The run's own devices and shards, unless --devices (the same number) or --device (one) replaces them.
        if (o.Devices is not null || o.Device is not null)
            training = WithDevices(o, training with { Devices = null, Shards = o.Devices is null ? null : training.Shards });
        using var devices = new DeviceSet(training.Devices ?? PlacementFor(o, model), training.Precision);
        // Shards measured now (a one-device run resumed with --devices) are recorded, so that a later --resume cuts the batch the same way.
        var resumed = training;
        Action<Trainer<float>>? started = training.Devices is not null && training.Shards is null
            ? t => folder.WriteConfig(config with { Training = TrainingSettings.ToJson(resumed with { Shards = t.Shards.ToArray() }) })
            : null;
        return Train(new Plan(data, model, training, training.Seed), folder, devices, resume: true, o, stdout, cancel, started);
    }

    private static int Train(Plan plan, RunFolder folder, DeviceSet devices, bool resume, TrainOptions o, TextWriter stdout, CancellationToken cancel, Action<Trainer<float>>? started = null)
    {
        // Data parallel: a replica per device. Otherwise one network: on one device, or a layer pipeline over a placement.
        using var replicas = new ReplicaSet(plan.Training.Devices is not null
            ? devices.Devices.Select(d => (ISequenceModel<float>)new SequenceNetwork<float>(d, plan.Model, plan.Seed))
            : [SequenceNetwork<float>.Create(plan.Model, devices.Devices, plan.Seed)]);
        var network = replicas.Models[0];
        if (network is PipelinedNetwork<float> pipelined && o.ChunkSteps is { } chunk)
            pipelined.Pipeline.ChunkSteps = chunk;
        using var trainer = new Trainer<float>(replicas.Models, plan.Data.Train, plan.Data.Validation, plan.Training);
        started?.Invoke(trainer);
        MetricsLog metrics;
        double elapsedBefore = 0;
        if (resume)
        {
            trainer.Resume(folder[RunFiles.LastCheckpoint]);
            metrics = MetricsLog.Resume(folder[RunFiles.Metrics], trainer.Step);
            elapsedBefore = metrics.Records.Count > 0 ? metrics.Records[^1].ElapsedS : 0;
        }
        else
        {
            metrics = new MetricsLog(folder[RunFiles.Metrics]);
        }

        long parameters = network.NamedParameters().Sum(p => p.Parameter.Value.Length);
        if (!o.Quiet)
        {
            stdout.WriteLine($"data: {plan.Data.Summary}");
            stdout.WriteLine($"model: {Describe(plan.Model)}, {parameters:N0} parameters, on {(network is PipelinedNetwork<float> ? "a pipeline of " + string.Join(", ", devices.Devices.Select((d, k) => $"layer {k} on {d.Name}")) : devices.Describe(trainer.Shards))}");
            stdout.WriteLine($"training: {TrainingSettings.Describe(plan.Training, trainer.TotalSteps)}");
            stdout.WriteLine(resume ? $"resuming {folder.Path} at step {trainer.Step}" : $"run folder: {folder.Path}");
        }

        string title = $"{plan.Data.Spec.Name}: {ModelConfig.CellName(plan.Model.Cell)} {plan.Model.HiddenSize}×{plan.Model.NumLayers}";
        long firstStep = trainer.Step;
        TrainerResult? result = null;
        var display = ProgressDisplay.Create(stdout, o.Quiet, o.LogEvery ?? Math.Max(1, plan.Training.ValidateEvery), trainer.TotalSteps);
        display.Run(firstStep, report =>
        {
            trainer.Progress = new Reporter<TrainerProgress>(p =>
            {
                var m = new StepMetrics(p.Step, p.Epoch, p.TrainLoss, p.ValidationLoss, p.LearningRate, p.GradNorm, elapsedBefore + p.Elapsed.TotalSeconds);
                metrics.Add(m);
                if (plan.Training.CheckpointEvery > 0 && p.Step % plan.Training.CheckpointEvery == 0)
                {
                    metrics.Flush();
                    LossPlot.Write(folder[RunFiles.Plot], metrics.Records, title);
                }

                report(m);
            });
            result = trainer.Run(o.UntilStep, cancel);
        });
        metrics.Flush();
        LossPlot.Write(folder[RunFiles.Plot], metrics.Records, title);

        bool finished = trainer.Step >= trainer.TotalSteps || trainer.StoppedEarly;
        string? published = finished ? folder.PublishModel() : null;

        if (o.Save is { } save)
            StateDict.Save(save, network.NamedParameters());

        var r = result!;
        long done = r.Steps - firstStep;
        double seconds = r.Elapsed.TotalSeconds;
        var records = metrics.Records;
        string lastLoss = records.Count > 0 ? ProgressDisplay.FormatLoss(records[^1].TrainLoss) : "-";
        string bestText = r.BestValidationLoss is { } bv ? $"; best validation loss {ProgressDisplay.FormatLoss(bv)} at step {r.BestStep}" : "";
        string how = r.StoppedEarly ? $"stopped early at step {r.Steps} (patience {plan.Training.Patience})" : finished ? $"trained to step {r.Steps}" : $"stopped at step {r.Steps} of {trainer.TotalSteps}";
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{how}: {done} steps in {seconds:F1} s ({(seconds > 0 ? done / seconds : 0):F1} steps/s); last train loss {lastLoss}{bestText}"));
        stdout.WriteLine(finished
            ? $"run folder {folder.Path}: model/ (the {published} weights), metrics.jsonl, loss.png, best/, last/"
            : $"run folder {folder.Path}; continue with: lstm train --resume {CommandLineText.Quote(folder.Path)}");
        if (o.Save is { } saved)
            stdout.WriteLine($"saved {saved}");
        return Program.Ok;
    }

    /// <summary>
    /// The trainer settings with the devices of <c>--devices</c> and the rows of <c>--shards</c>
    /// (checked: not with <c>--device</c>, one shard per device, each ≥ 1, summing to the batch);
    /// unchanged without <c>--devices</c>.
    /// </summary>
    private static TrainerOptions WithDevices(TrainOptions o, TrainerOptions training)
    {
        if (o.Devices is null)
        {
            if (o.Shards is not null && o.Resume is null)
                throw new LstmException($"--shards {o.Shards}: needs --devices (the rows of each batch per device)");
            return training;
        }

        if (o.Device is not null)
            throw new LstmException($"--device {o.Device} and --devices {o.Devices}: give one of them (--devices trains data-parallel on several)");
        var names = o.Devices.Split(',').Select(n => n.Trim()).ToArray();
        if (names.Any(n => n.Length == 0))
            throw new LstmException($"--devices {o.Devices}: a device name is empty (expected names separated by commas, e.g. cpu,ilgpu-cpu)");
        var shards = training.Shards?.ToArray();
        if (o.Shards is not null && o.Resume is null)
        {
            var parts = o.Shards.Split(',');
            shards = new int[parts.Length];
            for (int i = 0; i < parts.Length; i++)
            {
                if (!int.TryParse(parts[i].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out shards[i]))
                    throw new LstmException($"--shards {o.Shards}: '{parts[i]}' is not a whole number ≥ 0 (expected rows per device separated by commas, e.g. 24,8)");
            }
        }

        var result = training with { Devices = names, Shards = shards };
        try
        {
            (result with { CheckpointDirectory = "." }).Validate();
        }
        catch (LstmException e) when (shards is not null)
        {
            string which = o.Resume is null ? $"--shards {string.Join(",", shards)}" : $"(the run's shards {string.Join(",", shards)})";
            throw new LstmException($"--devices {o.Devices} {which}: {e.Message}", e);
        }

        if (shards is null && training.BatchSize < names.Length)
            throw new LstmException($"--devices {o.Devices}: a batch of {training.BatchSize} cannot give each of {names.Length} devices a row");
        return result;
    }

    /// <summary><c>lstm plan</c>, <c>lstm train --dry-run</c>: checks the options as train does, prints the plan of a step, creates nothing.</summary>
    public static int PrintPlan(TrainOptions o, TextWriter stdout)
    {
        ExecutionPlan plan;
        if (o.Resume is { } resume)
        {
            var folder = RunFolder.Open(resume, "--resume");
            var config = folder.ReadConfig();
            var model = ModelConfig.FromJson(config.Model.ToJsonString(), folder[RunFiles.RunConfig]);
            var training = TrainingSettings.FromJson(config.Training, folder[RunFiles.RunConfig]);
            var data = config.Data.Prepare();
            plan = PlanFor(o, model, training, data);
        }
        else
        {
            int seed = o.Seed ?? TrainingDefaults.Seed;
            var data = o.ToSpec(seed).Prepare();
            var model = ModelFor(o, data);
            plan = PlanFor(o, model, WithDevices(o, TrainingFor(o, data, seed)), data);
        }

        stdout.Write(plan.Format());
        return Program.Ok;
    }

    private static ExecutionPlan PlanFor(TrainOptions o, ModelConfig model, TrainerOptions training, PreparedData data)
    {
        var placement = PlacementFor(o, model);
        return training.Devices is { Count: > 1 } devices
            ? ExecutionPlan.ForDataParallel(model, devices, training.Shards, training.BatchSize, data.Train.Steps, sizeof(float), training.Optimizer, training.Momentum)
            : ExecutionPlan.ForTraining(model, placement, training.BatchSize, data.Train.Steps, sizeof(float), training.Optimizer, training.Momentum, o.ChunkSteps ?? 0);
    }

    /// <summary>The device names: --placement's, one per layer, or --device's.</summary>
    private static IReadOnlyList<string> PlacementFor(TrainOptions o, ModelConfig model)
    {
        if (o.ChunkSteps is { } chunk)
        {
            if (o.Placement is null)
                throw new LstmException($"--chunk-steps {chunk}: applies with --placement only");
            Positive("--chunk-steps", chunk);
        }

        if (o.Placement is null)
            return [o.Device ?? "auto"];
        if (o.Device is not null)
            throw new LstmException($"--placement {o.Placement} and --device {o.Device}: give one of them");
        if (o.Devices is not null)
            throw new LstmException($"--placement {o.Placement} and --devices {o.Devices}: give one of them (a layer pipeline is not replicated data-parallel)");
        var names = o.Placement.Split(',').Select(n => n.Trim()).ToArray();
        if (names.Any(n => n.Length == 0))
            throw new LstmException($"--placement {o.Placement}: a device name is empty (expected names separated by commas, e.g. cpu,ilgpu-cpu)");
        if (names.Length != model.NumLayers)
            throw new LstmException($"--placement {o.Placement} names {names.Length} device{(names.Length == 1 ? "" : "s")} but the model has {model.NumLayers} layer{(model.NumLayers == 1 ? "" : "s")} (--layers): give one device per layer");
        return names;
    }

    /// <summary>The model the options describe for the data.</summary>
    private static ModelConfig ModelFor(TrainOptions o, PreparedData data)
    {
        string cellName = (o.Cell ?? TrainingDefaults.Cell).Trim().ToLowerInvariant();
        if (cellName is not ("lstm" or "gru" or "rnn-tanh" or "rnn-relu"))
            throw new LstmException($"--cell {o.Cell}: expected lstm, gru, rnn-tanh or rnn-relu");
        var cell = ModelConfig.ParseCell(cellName);
        int hidden = o.Hidden ?? TrainingDefaults.HiddenFor(data.Spec.Source);
        int layers = o.Layers ?? TrainingDefaults.Layers;
        double dropout = o.Dropout ?? 0;
        int proj = o.ProjSize ?? 0;
        Positive("--hidden", hidden);
        Positive("--layers", layers);
        if (!(dropout >= 0 && dropout < 1))
            throw new LstmException($"--dropout {dropout.ToString(CultureInfo.InvariantCulture)}: must lie in [0, 1)");
        if (proj != 0 && cell != CellKind.Lstm)
            throw new LstmException($"--proj-size {proj}: only an LSTM has a projection (--cell {cellName})");
        if (proj < 0 || proj >= hidden)
            throw new LstmException($"--proj-size {proj}: must be 0 (none) or lie in [1, --hidden {hidden})");
        ModelConfig config;
        if (data.Tokens)
        {
            if (o.Bidirectional)
                throw new LstmException("--bidirectional: a model of tokens generates left to right, which a bidirectional layer cannot (its reverse direction reads the future)");
            int embedding = o.EmbeddingDim ?? TrainingDefaults.EmbeddingDim;
            Positive("--embedding-dim", embedding);
            config = ModelConfig.LanguageModel(cell, data.Classes, embedding, hidden, layers, dropout, proj);
        }
        else
        {
            if (o.EmbeddingDim is { } e)
                throw new LstmException($"--embedding-dim {e}: only models of tokens (--text, --task copy) have an embedding");
            config = new ModelConfig(ModelKind.SequenceToOne, cell, data.Train.InputSize, hidden, data.Train.TargetLength, layers, Bias: true, o.Bidirectional, dropout, proj);
        }

        config.Validate();
        return config;
    }

    /// <summary>The trainer settings the options describe (without the run folder).</summary>
    private static TrainerOptions TrainingFor(TrainOptions o, PreparedData data, int seed)
    {
        var optimizer = TrainingSettings.ParseOptimizer(o.Optimizer ?? TrainingDefaults.Optimizer);
        var schedule = TrainingSettings.ParseSchedule(o.Schedule ?? TrainingDefaults.Schedule);
        int batch = o.BatchSize ?? TrainingDefaults.BatchSize;
        Positive("--batch-size", batch);
        int trainCount = data.Train.Count;
        if (batch > trainCount)
            throw new LstmException($"--batch-size {batch}: larger than the {trainCount} training samples ({data.Summary})");
        if (o.Steps is not null && o.Epochs is not null)
            throw new LstmException($"--steps {o.Steps} and --epochs {o.Epochs}: give one of them");
        int steps = o.Steps ?? TrainingDefaults.Steps;
        int epochs = o.Epochs ?? 0;
        if (o.Steps is not null)
            Positive("--steps", steps);
        if (o.Epochs is not null)
            Positive("--epochs", epochs);
        if (o.Momentum is { } m && optimizer != OptimizerKind.Sgd)
            throw new LstmException($"--momentum {m.ToString(CultureInfo.InvariantCulture)}: applies to --optimizer sgd only");
        long total = epochs > 0 ? (long)epochs * (trainCount / batch) : steps;
        if (total > int.MaxValue)
            throw new LstmException($"--epochs {epochs}: {total} steps are too many");
        int validateEvery = o.ValidateEvery ?? TrainingDefaults.ValidateEvery(total);
        int checkpointEvery = o.CheckpointEvery ?? validateEvery;
        Positive("--validate-every", validateEvery);
        Positive("--checkpoint-every", checkpointEvery);
        NonNegative("--warmup", o.Warmup);
        NonNegative("--patience", o.Patience);
        NonNegative("--lr", o.LearningRate);
        NonNegative("--weight-decay", o.WeightDecay);
        NonNegative("--momentum", o.Momentum);
        NonNegative("--clip", o.Clip);
        var options = new TrainerOptions
        {
            Steps = epochs > 0 ? 0 : steps,
            Epochs = epochs,
            BatchSize = batch,
            ValidationBatchSize = TrainingDefaults.ValidationBatchSize(batch, data.Validation.Count),
            Optimizer = optimizer,
            LearningRate = o.LearningRate ?? TrainingDefaults.LearningRate(optimizer),
            Momentum = o.Momentum ?? 0,
            WeightDecay = o.WeightDecay ?? TrainingDefaults.WeightDecay(optimizer),
            Schedule = schedule,
            ScheduleStepSize = TrainingDefaults.ScheduleStepSize(total),
            WarmupSteps = o.Warmup ?? 0,
            ClipNorm = o.Clip ?? TrainingDefaults.Clip,
            Loss = data.Tokens ? LossKind.CrossEntropy : LossKind.Mse,
            ValidateEvery = validateEvery,
            Patience = o.Patience ?? 0,
            CheckpointEvery = checkpointEvery,
            Seed = seed,
            Precision = PrecisionOption.Parse(o.Precision),
        };
        (options with { CheckpointDirectory = "." }).Validate(); // The run folder comes later.
        return options;
    }

    /// <summary>One line saying what a model is.</summary>
    internal static string Describe(ModelConfig c)
    {
        string cell = ModelConfig.CellName(c.Cell).ToUpperInvariant();
        string layers = $"{c.NumLayers} layer{(c.NumLayers == 1 ? "" : "s")}";
        string extras = (c.Bidirectional ? ", bidirectional" : "") + (c.ProjSize > 0 ? $", proj_size {c.ProjSize}" : "")
            + (c.Dropout > 0 ? string.Create(CultureInfo.InvariantCulture, $", dropout {c.Dropout:G3}") : "");
        return c.Kind == ModelKind.LanguageModel
            ? $"{cell} language model: embedding {c.VocabSize}×{c.EmbeddingDim}, hidden {c.HiddenSize}, {layers}{extras}, {c.VocabSize} classes"
            : $"{cell} {ModelConfig.KindName(c.Kind)}: input {c.InputSize}, hidden {c.HiddenSize}, {layers}{extras}, output {c.OutputSize}";
    }

    private static void CheckWritable(string path, string option)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null && !Directory.Exists(dir))
            throw new LstmException($"{option} {path}: the folder {dir} does not exist");
        if (Directory.Exists(path))
            throw new LstmException($"{option} {path}: is a folder");
    }

    private static void Positive(string option, int value)
    {
        if (value < 1)
            throw new LstmException($"{option} {value}: must be ≥ 1");
    }

    private static void NonNegative(string option, double? value)
    {
        if (value is { } v && !(v >= 0 && double.IsFinite(v)))
            throw new LstmException($"{option} {v.ToString(CultureInfo.InvariantCulture)}: must be a finite number ≥ 0");
    }
}

/// <summary>The devices of a run, opened in order (a name twice is two devices) and disposed together.</summary>
internal sealed class DeviceSet : IDisposable
{
    public DeviceSet(IReadOnlyList<string> names, GemmPrecision precision)
    {
        var opened = new List<ComputeDevice>();
        try
        {
            foreach (string name in names)
                opened.Add(ComputeDevice.Open(name, precision));
        }
        catch
        {
            opened.ForEach(d => d.Dispose());
            throw;
        }

        Devices = opened;
    }

    public IReadOnlyList<ComputeDevice> Devices { get; }

    /// <summary>"cpu (…)" for one device; "cpu, ilgpu-cpu (data parallel, shards 24,8)" for several.</summary>
    public string Describe(IReadOnlyList<int> shards) => Devices.Count == 1
        ? Devices[0].ToString()
        : $"{string.Join(", ", Devices.Select(d => d.Name))} (data parallel, shards {string.Join(",", shards)})";

    public void Dispose()
    {
        foreach (var d in Devices)
            d.Dispose();
    }
}

/// <summary>The replicas of a model, one per device, disposed together.</summary>
internal sealed class ReplicaSet(IEnumerable<ISequenceModel<float>> models) : IDisposable
{
    public IReadOnlyList<ISequenceModel<float>> Models { get; } = models.ToList();

    public void Dispose()
    {
        foreach (var m in Models)
            m.Dispose();
    }
}

/// <summary>An <see cref="IProgress{T}"/> that calls its action at once, on the reporting thread.</summary>
internal sealed class Reporter<T>(Action<T> action) : IProgress<T>
{
    public void Report(T value) => action(value);
}

using System.Globalization;
using System.Text.Json.Nodes;
using Lstm.Runtime.Data;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Persistence;

namespace Lstm.Runtime.Training;

/// <summary>
/// A training run in a <see cref="RunFolder"/>: data from the settings, a <see cref="SequenceNetwork{T}"/>
/// (one device, replicas for data parallelism, or a layer pipeline over a placement), a
/// <see cref="Trainer{T}"/>, the metrics log, checkpoints and, once training has ended, the model
/// published in <c>model/</c>. <see cref="Start"/> checks every setting and file before it makes
/// the folder, so bad input leaves nothing behind; <see cref="Resume"/> continues a run from its
/// <c>last/</c> checkpoint. What is shown while training is left to an <see cref="ITrainingObserver"/>.
/// </summary>
public static class TrainingRun
{
    /// <summary>What a run trains: data, model and settings, checked.</summary>
    private sealed record Plan(PreparedData Data, ModelConfig Model, TrainerOptions Training, int Seed);

    /// <summary>Trains a new run.</summary>
    /// <param name="settings">The settings (not resuming).</param>
    /// <param name="commandLine">The command line that asked for it, recorded as <c>command.txt</c>.</param>
    /// <param name="observer">Shows progress and draws the loss plot.</param>
    /// <param name="cancel">Stops training after the next step (<c>last/</c> is written first).</param>
    /// <exception cref="LstmException">A setting, a file or a device is bad (the folder is not left behind).</exception>
    public static TrainingRunResult Start(TrainingRunSettings settings, string commandLine, ITrainingObserver observer, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(commandLine);
        ArgumentNullException.ThrowIfNull(observer);
        if (settings.Resume is not null)
            throw new LstmException($"--resume {settings.Resume}: a new run starts without --resume");
        settings.Validate();
        int seed = settings.Seed ?? TrainingDefaults.Seed;
        var spec = (settings.Data ?? new DataSpec()) with { Seed = seed };
        var data = spec.Prepare();
        var model = settings.ModelFor(data);
        var training = settings.WithDevices(settings.TrainerFor(data, seed));
        var placement = settings.PlacementFor(model);
        string path = settings.Out ?? RunFolder.DefaultPath(spec.Name, DateTime.Now);
        RunFolder.CheckNew(path);
        using var devices = new DeviceSet(training.Devices ?? placement, training.Precision);

        // Everything is checked: from here on the run folder exists. Should the model or trainer
        // still refuse the settings before a checkpoint is written, the folder goes again.
        var folder = RunFolder.Create(path);
        try
        {
            folder.WriteText(RunFiles.Command, commandLine + "\n");
            var config = new RunConfig((JsonObject)JsonNode.Parse(model.ToJson())!, spec, TrainingSettings.ToJson(training));
            folder.WriteConfig(config);
            folder.WriteText(RunFiles.Metrics, "");
            var extra = folder.CreateModelDirectory(model, data);
            training = training with { CheckpointDirectory = folder.Path, ExtraFiles = extra };
            // Measured shards are recorded once known, so that a resume reuses them.
            var recorded = training;
            Action<Trainer<float>> started = t => folder.WriteConfig(config with { Training = TrainingSettings.ToJson(recorded with { Shards = t.Shards.ToArray() }) });
            return Train(new Plan(data, model, training, seed), folder, devices, resume: false, settings, observer, cancel, training.Devices is null ? null : started);
        }
        catch (LstmException) when (!folder.HasCheckpoint)
        {
            folder.Discard();
            throw;
        }
    }

    /// <summary>Continues the run in <see cref="TrainingRunSettings.Resume"/> from its <c>last/</c> checkpoint, with its own settings (only its devices may change).</summary>
    /// <param name="settings">The settings (resuming).</param>
    /// <param name="observer">Shows progress and draws the loss plot.</param>
    /// <param name="cancel">Stops training after the next step (<c>last/</c> is written first).</param>
    /// <exception cref="LstmException">A setting is given that the run cannot change, or the folder, its checkpoint or a device is bad.</exception>
    public static TrainingRunResult Resume(TrainingRunSettings settings, ITrainingObserver observer, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(observer);
        if (settings.Resume is null)
            throw new LstmException("--resume: no run folder to continue");
        settings.Validate();
        var folder = RunFolder.Open(settings.Resume, "--resume");
        string configPath = folder[RunFiles.RunConfig];
        var config = folder.ReadConfig();
        var model = ModelConfig.FromJson(config.Model.ToJsonString(), configPath);
        var training = TrainingSettings.FromJson(config.Training, configPath);
        // --lr, --clip and --on-nonfinite may change on resume (a run stopped by a non-finite step); the config records them for later resumes.
        if (settings.ResumeChanges(training) is { } changed)
        {
            training = changed;
            config = config with { Training = TrainingSettings.ToJson(changed) };
            folder.WriteConfig(config);
        }

        string last = folder[RunFiles.LastCheckpoint];
        if (!File.Exists(Path.Combine(last, RunFiles.TrainerState)))
            throw new LstmException($"--resume {settings.Resume}: no {RunFiles.LastCheckpoint}/ checkpoint to continue from");
        var data = config.Data.Prepare();
        TrainingMemory.Check(model, Math.Max(training.BatchSize, training.ValidationBatchSize), data.Train.Steps, training.Optimizer, training.Momentum, configPath);
        var extra = folder.ModelDirectoryFiles();
        training = training with { CheckpointDirectory = folder.Path, ExtraFiles = extra };
        // The run's own devices and shards, unless --devices (the same number) or --device (one) replaces them.
        if (settings.Devices is not null || settings.Device is not null)
            training = settings.WithDevices(training with { Devices = null, Shards = settings.Devices is null ? null : training.Shards });
        using var devices = new DeviceSet(training.Devices ?? settings.PlacementFor(model), training.Precision);
        // Shards measured now (a one-device run resumed with --devices) are recorded, so that a later resume cuts the batch the same way.
        var resumed = training;
        Action<Trainer<float>>? started = training.Devices is not null && training.Shards is null
            ? t => folder.WriteConfig(config with { Training = TrainingSettings.ToJson(resumed with { Shards = t.Shards.ToArray() }) })
            : null;
        return Train(new Plan(data, model, training, training.Seed), folder, devices, resume: true, settings, observer, cancel, started);
    }

    /// <summary>The plan of a step of the run the settings describe (<c>lstm plan</c>): checked as <see cref="Start"/> or <see cref="Resume"/> checks them; creates nothing.</summary>
    /// <param name="settings">The settings.</param>
    public static ExecutionPlan PlanOf(TrainingRunSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ModelConfig model;
        TrainerOptions training;
        PreparedData data;
        if (settings.Resume is { } resume)
        {
            var folder = RunFolder.Open(resume, "--resume");
            var config = folder.ReadConfig();
            model = ModelConfig.FromJson(config.Model.ToJsonString(), folder[RunFiles.RunConfig]);
            training = TrainingSettings.FromJson(config.Training, folder[RunFiles.RunConfig]);
            data = config.Data.Prepare();
        }
        else
        {
            settings.Validate();
            int seed = settings.Seed ?? TrainingDefaults.Seed;
            data = ((settings.Data ?? new DataSpec()) with { Seed = seed }).Prepare();
            model = settings.ModelFor(data);
            training = settings.WithDevices(settings.TrainerFor(data, seed));
        }

        var placement = settings.PlacementFor(model);
        return training.Devices is { Count: > 1 } devices
            ? ExecutionPlan.ForDataParallel(model, devices, training.Shards, training.BatchSize, data.Train.Steps, sizeof(float), training.Optimizer, training.Momentum)
            : ExecutionPlan.ForTraining(model, placement, training.BatchSize, data.Train.Steps, sizeof(float), training.Optimizer, training.Momentum, settings.ChunkSteps ?? 0);
    }

    private static TrainingRunResult Train(
        Plan plan, RunFolder folder, DeviceSet devices, bool resume, TrainingRunSettings settings, ITrainingObserver observer, CancellationToken cancel, Action<Trainer<float>>? started)
    {
        // Data parallel: a replica per device. Otherwise one network: on one device, or a layer pipeline over a placement.
        using var replicas = new ReplicaSet(plan.Training.Devices is not null
            ? devices.Devices.Select(d => (ISequenceModel<float>)new SequenceNetwork<float>(d, plan.Model, plan.Seed))
            : [SequenceNetwork<float>.Create(plan.Model, devices.Devices, plan.Seed)]);
        var network = replicas.Models[0];
        if (network is PipelinedNetwork<float> pipelined && settings.ChunkSteps is { } chunk)
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
        string where = network is PipelinedNetwork<float> ? "a pipeline of " + string.Join(", ", devices.Devices.Select((d, k) => $"layer {k} on {d.Name}")) : devices.Describe(trainer.Shards);
        long firstStep = trainer.Step;
        var start = new TrainingRunStart(
            plan.Data.Summary, $"{Describe(plan.Model)}, {parameters:N0} parameters, on {where}", TrainingSettings.Describe(plan.Training, trainer.TotalSteps),
            folder.Path, resume, firstStep, trainer.TotalSteps, settings.LogEvery ?? Math.Max(1, plan.Training.ValidateEvery));

        string title = $"{plan.Data.Spec.Name}: {ModelConfig.CellName(plan.Model.Cell)} {plan.Model.HiddenSize}×{plan.Model.NumLayers}";
        void Plot() => AtomicFile.Write(folder[RunFiles.Plot], temp => observer.DrawLossPlot(temp, metrics.Records, title));
        TrainerResult? result = null;
        observer.Train(start, report =>
        {
            trainer.Progress = new Reporter<TrainerProgress>(p =>
            {
                var m = new StepMetrics(p.Step, p.Epoch, p.TrainLoss, p.ValidationLoss, p.LearningRate, p.GradNorm, elapsedBefore + p.Elapsed.TotalSeconds);
                metrics.Add(m);
                if (plan.Training.CheckpointEvery > 0 && p.Step % plan.Training.CheckpointEvery == 0)
                {
                    metrics.Flush();
                    Plot();
                }

                report(m);
            });
            result = trainer.Run(settings.UntilStep, cancel);
        });
        metrics.Flush();
        Plot();
        if (result?.NonFinite is { } stop)
            throw new LstmException(NonFiniteMessage(stop, folder.Path, trainer.Step, plan.Training));

        bool finished = trainer.Step >= trainer.TotalSteps || trainer.StoppedEarly;
        string? published = finished ? folder.PublishModel() : null;

        if (settings.Save is { } save)
            StateDict.Save(save, network.NamedParameters());

        var records = metrics.Records;
        return new TrainingRunResult(
            folder.Path, result ?? throw new LstmException("training run: the observer did not run the training loop"), firstStep, trainer.TotalSteps, finished, published,
            records.Count > 0 ? records[^1].TrainLoss : null, plan.Training.Patience, settings.Save);
    }

    /// <summary>The message of a run stopped by a non-finite step: what, where it stopped, what was kept, how to continue.</summary>
    private static string NonFiniteMessage(NonFiniteStep stop, string folder, long step, TrainerOptions training)
    {
        string kept = stop.CheckpointWritten
            ? $"{RunFiles.LastCheckpoint}/ holds step {step}, the last finite state"
            : $"the weights are not finite either, so {RunFiles.LastCheckpoint}/ keeps its previous checkpoint";
        string lower = (training.LearningRate / 10).ToString("G3", CultureInfo.InvariantCulture);
        return $"{stop.Describe()}: training stopped ({kept}; {RunFiles.BestCheckpoint}/ is unchanged). Continue with a lower learning rate, e.g. "
            + $"lstm train --resume {folder} --lr {lower}, or skip such steps with --on-nonfinite skip";
    }

    /// <summary>One line saying what a model is.</summary>
    /// <param name="c">The model.</param>
    public static string Describe(ModelConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
        string cell = ModelConfig.CellName(c.Cell).ToUpperInvariant();
        string layers = $"{c.NumLayers} layer{(c.NumLayers == 1 ? "" : "s")}";
        string extras = (c.Bidirectional ? ", bidirectional" : "") + (c.ProjSize > 0 ? $", proj_size {c.ProjSize}" : "")
            + (c.Dropout > 0 ? string.Create(CultureInfo.InvariantCulture, $", dropout {c.Dropout:G3}") : "");
        return c.Kind == ModelKind.LanguageModel
            ? $"{cell} language model: embedding {c.VocabSize}×{c.EmbeddingDim}, hidden {c.HiddenSize}, {layers}{extras}, {c.VocabSize} classes"
            : $"{cell} {ModelConfig.KindName(c.Kind)}: input {c.InputSize}, hidden {c.HiddenSize}, {layers}{extras}, output {c.OutputSize}";
    }
}

using System.Globalization;
using System.Text.Json.Nodes;
using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
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
/// <c>last/</c> checkpoint. Either holds the folder's lock (<see cref="RunFolderLock"/>) while it
/// runs. What is shown while training is left to an <see cref="ITrainingObserver"/>.
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
    /// <exception cref="LstmException">
    /// A setting, a file or a device is bad, or another process holds the folder (the folder is not
    /// left behind, unless it is that other process's).
    /// </exception>
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
        if (settings.Save is { } save)
            AtomicFile.CheckTarget(save, "--save");
        using var devices = new DeviceSet(training.Devices ?? placement, training.Precision);

        // Everything is checked: from here on the run folder exists, and this process holds it.
        // Should the model or trainer still refuse the settings before a checkpoint is written,
        // what this process wrote goes again.
        using var folder = RunFolder.Create(path);
        try
        {
            folder.WriteText(RunFiles.Command, commandLine + "\n");
            // The data file is recorded absolute and relative to the run folder, so the run works from any directory and moved with its data.
            var config = new RunConfig((JsonObject)JsonNode.Parse(model.ToJson())!, spec.ForRunFolder(folder.Path), TrainingSettings.ToJson(training));
            folder.WriteConfig(config);
            folder.WriteText(RunFiles.Metrics, "");
            var extra = folder.CreateModelDirectory(model, data, config);
            training = training with { ExtraFiles = extra };
            // Measured shards are recorded once known, so that a resume reuses them.
            var recorded = training;
            Action<Trainer<float>> started = t => folder.WriteConfig(config with { Training = TrainingSettings.ToJson(recorded with { Shards = t.Shards.ToArray() }) });
            var metrics = new MetricsLog(folder[RunFiles.Metrics]);
            return Train(new Plan(data, model, training, seed), folder, devices, null, metrics, [], settings, observer, cancel, training.Devices is null ? null : started);
        }
        catch (LstmException) when (!folder.HasCheckpoint)
        {
            folder.Discard();
            throw;
        }
    }

    /// <summary>
    /// Continues the run in <see cref="TrainingRunSettings.Resume"/> from its <c>last/</c>
    /// checkpoint, with its own settings (only its devices may change). The folder is locked
    /// first; what an interrupted run left is recovered (<see cref="TrainingCheckpoint.Recover"/>:
    /// a checkpoint complete but not yet renamed into place, or renamed aside; incomplete ones
    /// removed), <c>metrics.jsonl</c> is cut back to the checkpoint's step, and each of these is
    /// reported in <see cref="TrainingRunStart.Recovered"/>. A run stopped before its first
    /// checkpoint starts again from step 0.
    /// </summary>
    /// <param name="settings">The settings (resuming).</param>
    /// <param name="observer">Shows progress and draws the loss plot.</param>
    /// <param name="cancel">Stops training after the next step (<c>last/</c> is written first).</param>
    /// <exception cref="LstmException">
    /// A setting is given that the run cannot change, <c>config.json</c> differs from the
    /// checkpoint's copy in a field that alters the run (the message names it), another process
    /// holds the folder, or the folder, its checkpoint (a file not matching its manifest) or a
    /// device is bad.
    /// </exception>
    public static TrainingRunResult Resume(TrainingRunSettings settings, ITrainingObserver observer, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(observer);
        if (settings.Resume is null)
            throw new LstmException("--resume: no run folder to continue");
        settings.Validate();
        if (settings.Save is { } save)
            AtomicFile.CheckTarget(save, "--save");
        using var folder = RunFolder.OpenForTraining(settings.Resume, "--resume");
        string configPath = folder[RunFiles.RunConfig];
        var config = folder.ReadConfig();
        // Values out of bounds are refused first, with their own message.
        var model = ModelConfig.FromJson(config.Model.ToJsonString(), configPath);
        var training = TrainingSettings.FromJson(config.Training, configPath);
        var notes = new List<string>();
        var last = TrainingCheckpoint.Recover(folder[RunFiles.LastCheckpoint]);
        notes.AddRange(last.Notes);
        var best = TrainingCheckpoint.Recover(folder[RunFiles.BestCheckpoint]);
        notes.AddRange(best.Notes);
        string saved = last.Directory is { } checkpoint
            ? Path.Combine(checkpoint, RunFiles.RunConfigCopy)
            : Path.Combine(folder[RunFiles.ModelDirectory], RunFiles.RunConfigCopy);
        if (File.Exists(saved))
            CheckUnchanged(settings.Resume, config, RunConfig.Load(saved), saved, last.Step, settings.ResumeFields());
        else if (last.Directory is not null)
            throw new LstmException($"--resume {settings.Resume}: the checkpoint has no {RunFiles.RunConfigCopy} (the settings it was trained with), so config.json cannot be checked against it; it was written by an older version");

        var data = config.Data.LocatedFrom(folder.Path).Prepare();
        TrainingMemory.Check(model, Math.Max(training.BatchSize, training.ValidationBatchSize), data.Train.Steps, training.Optimizer, training.Momentum, configPath);
        IReadOnlyList<string> extra;
        if (last.Directory is { } dir)
        {
            extra = RestoreModelDirectory(folder, dir, notes);
        }
        else
        {
            // No checkpoint yet: the run starts again, with the model folder written anew.
            notes.Add($"{RunFiles.LastCheckpoint}/: none yet (the run stopped before its first checkpoint); training starts again from step 0");
            if (best.Directory is not null)
            {
                TrainingCheckpoint.Remove(best.Directory);
                notes.Add($"{RunFiles.BestCheckpoint}/: removed, the best of steps that are trained again");
            }

            extra = folder.CreateModelDirectory(model, data, config);
        }

        // --lr, --clip and --on-nonfinite may change on resume (a run stopped by a non-finite step):
        // config.json and model/'s copy record them, so the next checkpoint and later resumes carry them.
        if (settings.ResumeChanges(training) is { } changed)
        {
            if (settings.Steps is { } steps && last.Step is { } done && steps <= done)
                throw new LstmException($"--steps {steps}: the run in {settings.Resume} has trained {done} steps already; give more to extend it");
            training = changed;
            config = config with { Training = TrainingSettings.ToJson(changed) };
            folder.WriteConfig(config);
        }

        training = training with { ExtraFiles = extra };
        // The run's own devices and shards, unless --devices (the same number) or --device (one) replaces them.
        if (settings.Devices is not null || settings.Device is not null)
            training = settings.WithDevices(training with { Devices = null, Shards = settings.Devices is null ? null : training.Shards });
        using var devices = new DeviceSet(training.Devices ?? settings.PlacementFor(model), training.Precision);
        // Shards measured now (a one-device run resumed with --devices) are recorded, so that a later resume cuts the batch the same way.
        var resumed = training;
        Action<Trainer<float>>? started = training.Devices is not null && training.Shards is null
            ? t => folder.WriteConfig(config with { Training = TrainingSettings.ToJson(resumed with { Shards = t.Shards.ToArray() }) })
            : null;
        var metrics = MetricsLog.Resume(folder[RunFiles.Metrics], last.Step ?? 0);
        notes.AddRange(metrics.ResumeNotes);
        return Train(new Plan(data, model, training, training.Seed), folder, devices, last.Directory, metrics, notes, settings, observer, cancel, started);
    }

    /// <summary>Refuses a <c>config.json</c> that differs from the settings the checkpoint was trained with in a field that alters the run.</summary>
    private static void CheckUnchanged(string run, RunConfig current, RunConfig saved, string savedPath, long? step, IReadOnlySet<string> given)
    {
        // A field this resume sets itself (--lr, --clip, --on-nonfinite) replaces whatever config.json holds.
        var changed = saved.Differences(current).Where(c => !given.Contains(c.Field)).ToList();
        if (changed.Count == 0)
            return;
        string fields = string.Join("; ", changed.Select(c => $"{c.Field} is {c.Theirs}, was {c.Mine}"));
        throw new LstmException(
            $"--resume {run}: {RunFiles.RunConfig} was changed since {(step is { } s ? $"the checkpoint of step {s}" : "the run started")} ({savedPath} holds the settings it was trained with): {fields}. "
            + "A resumed run keeps its settings (only --device, --devices, --placement, --chunk-steps, --until-step, --log-every, --quiet, --lr, --clip, --on-nonfinite and --steps may change it); put the file back, or start a new run with the new settings");
    }

    /// <summary>
    /// Makes <c>model/</c>'s files those the checkpoint copied (checked against its manifest), so
    /// that the model's config and data files are the ones its weights were trained with; returns them.
    /// </summary>
    private static IReadOnlyList<string> RestoreModelDirectory(RunFolder folder, string checkpoint, List<string> notes)
    {
        string modelDir = folder[RunFiles.ModelDirectory];
        Directory.CreateDirectory(modelDir);
        var files = new List<string>();
        foreach (string name in TrainingCheckpoint.ReadState(checkpoint).ExtraFiles.Order(StringComparer.Ordinal))
        {
            string source = Path.Combine(checkpoint, name);
            string target = Path.Combine(modelDir, name);
            byte[] bytes = File.ReadAllBytes(source);
            bool present = File.Exists(target);
            if (!present || !File.ReadAllBytes(target).AsSpan().SequenceEqual(bytes))
            {
                AtomicFile.WriteAllBytes(target, bytes);
                notes.Add($"{RunFiles.ModelDirectory}/{name}: {(present ? "differed from" : "was missing, unlike")} the checkpoint's copy; restored from it");
            }

            files.Add(target);
        }

        return files;
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
            data = config.Data.LocatedFrom(folder.Path).Prepare();
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

    /// <summary>
    /// Trains, writing the checkpoints itself rather than leaving them to the trainer, so that
    /// <c>metrics.jsonl</c> is on disk up to a step before <c>last/</c> of that step is committed:
    /// a crash never leaves a checkpoint ahead of the metrics.
    /// </summary>
    private static TrainingRunResult Train(
        Plan plan, RunFolder folder, DeviceSet devices, string? checkpoint, MetricsLog metrics, IReadOnlyList<string> recovered,
        TrainingRunSettings settings, ITrainingObserver observer, CancellationToken cancel, Action<Trainer<float>>? started)
    {
        // Data parallel: a replica per device. Otherwise one network: on one device, or a layer pipeline over a placement.
        using var replicas = new ReplicaSet(plan.Training.Devices is not null
            ? devices.Devices.Select(d => (ISequenceModel<float>)new SequenceNetwork<float>(d, plan.Model, plan.Seed))
            : [SequenceNetwork<float>.Create(plan.Model, devices.Devices, plan.Seed)]);
        var network = replicas.Models[0];
        if (network is PipelinedNetwork<float> pipelined && settings.ChunkSteps is { } chunk)
            pipelined.Pipeline.ChunkSteps = chunk;
        var trainerOptions = plan.Training with { CheckpointEvery = 0, CheckpointDirectory = null };
        using var trainer = new Trainer<float>(replicas.Models, plan.Data.Train, plan.Data.Validation, trainerOptions);
        started?.Invoke(trainer);
        if (checkpoint is not null)
            trainer.Resume(checkpoint);
        double elapsedBefore = metrics.Records.Count > 0 ? metrics.Records[^1].ElapsedS : 0;

        long parameters = network.NamedParameters().Sum(p => p.Parameter.Value.Length);
        string where = network is PipelinedNetwork<float> ? "a pipeline of " + string.Join(", ", devices.Devices.Select((d, k) => $"layer {k} on {d.Name}")) : devices.Describe(trainer.Shards);
        long firstStep = trainer.Step;
        bool resumed = settings.Resume is not null;
        var start = new TrainingRunStart(
            plan.Data.Summary, $"{Describe(plan.Model)}, {parameters:N0} parameters, on {where}", TrainingSettings.Describe(plan.Training, trainer.TotalSteps),
            folder.Path, resumed, firstStep, trainer.TotalSteps, settings.LogEvery ?? Math.Max(1, plan.Training.ValidateEvery), recovered)
        {
            StopStep = Math.Min(settings.UntilStep ?? trainer.TotalSteps, trainer.TotalSteps),
            DataWarnings = plan.Data.Warnings,
        };

        string title = $"{plan.Data.Spec.Name}: {ModelConfig.CellName(plan.Model.Cell)} {plan.Model.HiddenSize}×{plan.Model.NumLayers}";
        void Plot() => AtomicFile.Write(folder[RunFiles.Plot], temp => observer.DrawLossPlot(temp, metrics.Records, title));
        long end = Math.Min(settings.UntilStep ?? trainer.TotalSteps, trainer.TotalSteps);
        var checkpoints = new RunCheckpoints(folder, metrics, trainer, plan.Training.CheckpointEvery, end, Plot);
        TrainerResult? result = null;
        observer.Train(start, report =>
        {
            trainer.Progress = checkpoints.Progress(report, elapsedBefore, cancel);
            result = trainer.Run(settings.UntilStep, cancel);
        });

        checkpoints.Finish(result);
        var stop = result?.NonFinite;
        if (stop is not null)
            throw new LstmException(NonFiniteMessage(stop, folder.Path, checkpoints.SavedStep, checkpoints.SavedStep == trainer.Step, plan.Training));

        bool finished = trainer.Step >= trainer.TotalSteps || trainer.StoppedEarly;
        string? published = finished ? folder.PublishModel() : null;

        if (settings.Save is { } save)
            StateDict.Save(save, network.NamedParameters());

        var records = metrics.Records;
        return new TrainingRunResult(
            folder.Path, result ?? throw new LstmException("training run: the observer did not run the training loop"), firstStep, trainer.TotalSteps, finished, published,
            records.Count > 0 ? records[^1].TrainLoss : null, plan.Training.Patience, settings.Save)
        {
            Scores = published is not null && plan.Data.Forecast is not null ? ScorePublished(folder, devices.Devices[0], plan.Data) : [],
            DataWarnings = plan.Data.Warnings,
        };
    }

    /// <summary>
    /// A finished forecast's published weights (<c>model/</c>, as <c>lstm eval</c> loads them) on
    /// the validation and test sets beside the baselines, so that the run ends with what it is worth.
    /// </summary>
    private static IReadOnlyList<EvaluationSet> ScorePublished(RunFolder folder, ComputeDevice device, PreparedData data)
    {
        using var model = SequenceNetwork<float>.Load(device, folder[RunFiles.ModelDirectory]);
        return model.Input == SequenceInput.Values ? ForecastScoring.ScoreSplit(model, data, EvaluationSettings.DefaultBatchSize, data.Spec.Season) : [];
    }

    /// <summary>The message of a run stopped by a non-finite step: what, where it stopped, what was kept, how to continue.</summary>
    private static string NonFiniteMessage(NonFiniteStep stop, string folder, long saved, bool atStop, TrainerOptions training)
    {
        string kept = atStop
            ? $"{RunFiles.LastCheckpoint}/ holds step {saved}, the last finite state"
            : $"the weights are not finite either, so {RunFiles.LastCheckpoint}/ keeps its checkpoint of step {saved}";
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

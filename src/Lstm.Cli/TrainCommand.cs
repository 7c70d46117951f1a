using System.Globalization;
using Lstm.Runtime;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Training;

namespace Lstm.Cli;

/// <summary>
/// <c>lstm train</c> and <c>lstm plan</c>: the options as <see cref="TrainingRunSettings"/>, checked,
/// then a <see cref="TrainingRun"/> (new, or <c>--resume</c>d) shown on the console: progress while
/// it trains, loss.png drawn by <see cref="LossPlot"/>, and a summary at the end.
/// </summary>
internal static class TrainCommand
{
    public static int Execute(TrainOptions o, IReadOnlyList<string> args, TextWriter stdout, CancellationToken cancel)
    {
        if (Seq2SeqCommand.Applies(o))
            return Seq2SeqCommand.Train(o, args, stdout, cancel);
        if (ClassifyCommand.Applies(o))
            return ClassifyCommand.Train(o, args, stdout, cancel);
        if (o.DryRun)
            return PrintPlan(o, stdout);
        var settings = SettingsOf(o);
        settings.Validate();
        var console = new ConsoleObserver(stdout, o.Quiet);
        var r = settings.Resume is null
            ? TrainingRun.Start(settings, CommandLineText.Format(args), console, cancel)
            : TrainingRun.Resume(settings, console, cancel);
        PrintSummary(r, stdout);
        return Program.Ok;
    }

    /// <summary><c>lstm plan</c>, <c>lstm train --dry-run</c>: checks the options as train does, prints the plan of a step, creates nothing.</summary>
    public static int PrintPlan(TrainOptions o, TextWriter stdout)
    {
        if (Seq2SeqCommand.Applies(o))
            throw new LstmException("lstm plan and --dry-run are not for an encoder-decoder (--pairs, --task reverse|dates): it trains on one device");
        stdout.Write(TrainingRun.PlanOf(SettingsOf(o)).Format());
        return Program.Ok;
    }

    /// <summary>The options as the runtime's settings of a run (null where not given).</summary>
    private static TrainingRunSettings SettingsOf(TrainOptions o) => new()
    {
        Data = o.AnyData ? o.ToSpec() : null,
        Cell = o.Cell,
        Layers = o.Layers,
        Hidden = o.Hidden,
        Bidirectional = o.Bidirectional,
        Dropout = o.Dropout,
        ProjSize = o.ProjSize,
        EmbeddingDim = o.EmbeddingDim,
        Steps = o.Steps,
        Epochs = o.Epochs,
        BatchSize = o.BatchSize,
        Optimizer = o.Optimizer,
        LearningRate = o.LearningRate,
        WeightDecay = o.WeightDecay,
        Momentum = o.Momentum,
        Schedule = o.Schedule,
        Warmup = o.Warmup,
        Clip = o.Clip,
        OnNonFinite = o.OnNonFinite,
        Patience = o.Patience,
        ValidateEvery = o.ValidateEvery,
        CheckpointEvery = o.CheckpointEvery,
        Seed = o.Seed,
        Precision = o.Precision is null ? null : PrecisionNames.ParseOption(o.Precision),
        Device = o.Device,
        Devices = o.Devices,
        Shards = o.Shards,
        Placement = o.Placement,
        ChunkSteps = o.ChunkSteps,
        Out = o.Out,
        Resume = o.Resume,
        UntilStep = o.UntilStep,
        LogEvery = o.LogEvery,
        Save = o.Save,
    };

    internal static void PrintSummary(TrainingRunResult r, TextWriter stdout)
    {
        var t = r.Trainer;
        long done = t.Steps - r.FirstStep;
        double seconds = t.Elapsed.TotalSeconds;
        string lastLoss = r.LastTrainLoss is { } loss ? ProgressDisplay.FormatLoss(loss) : "-";
        string bestText = t.BestValidationLoss is { } bv ? $"; best validation loss {ProgressDisplay.FormatLoss(bv)} at step {t.BestStep}" : "";
        if (t.SkippedSteps > 0)
            bestText += $"; {t.SkippedSteps} step{(t.SkippedSteps == 1 ? "" : "s")} skipped (non-finite loss or gradient)";
        string how = t.StoppedEarly ? $"stopped early at step {t.Steps} (patience {r.Patience})" : r.Finished ? $"trained to step {t.Steps}" : $"stopped at step {t.Steps} of {r.TotalSteps}";
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{how}: {done} steps in {seconds:F1} s ({(seconds > 0 ? done / seconds : 0):F1} steps/s); last train loss {lastLoss}{bestText}"));
        stdout.WriteLine(r.Finished
            ? $"run folder {r.Folder}: model/ (the {r.PublishedFrom} weights), metrics.jsonl, loss.png, best/, last/"
            : $"run folder {r.Folder}; continue with: lstm train --resume {CommandLineText.Quote(r.Folder)}");
        if (r.Saved is { } saved)
            stdout.WriteLine($"saved {saved}");
        foreach (var set in r.Scores)
        {
            stdout.WriteLine($"{set.Name}: {set.Description}");
            EvalCommand.PrintForecast(set, stdout);
        }
    }

    /// <summary>A run on the console: the settings in four lines (unless quiet), then its progress display; loss.png drawn with ScottPlot.</summary>
    internal sealed class ConsoleObserver(TextWriter stdout, bool quiet) : ITrainingObserver
    {
        public void Train(TrainingRunStart start, Action<Action<StepMetrics>> train)
        {
            foreach (string note in start.Recovered ?? [])
                stdout.WriteLine($"recovered: {note}");
            if (!quiet)
            {
                stdout.WriteLine($"data: {start.Data}");
                foreach (string warning in start.DataWarnings)
                    stdout.WriteLine($"warning: {warning}");
                stdout.WriteLine($"model: {start.Model}");
                stdout.WriteLine($"training: {start.Training}");
                stdout.WriteLine(start.Resumed ? $"resuming {start.Folder} at step {start.FirstStep}" : $"run folder: {start.Folder}");
            }

            ProgressDisplay.Create(stdout, quiet, start.LogEvery, start.StopStep).Run(start.FirstStep, train);
        }

        public void DrawLossPlot(string file, IReadOnlyList<StepMetrics> records, string title) => LossPlot.Draw(file, records, title);
    }
}

using Lstm.Runtime.Persistence;

namespace Lstm.Runtime.Training;

/// <summary>
/// How a run in its folder commits its checkpoints, written once for every kind of run: each step's
/// metrics are recorded, <c>best/</c> is written at each new best validation loss, and <c>last/</c>
/// every checkpoint interval and after the step the loop stops at, with <c>metrics.jsonl</c> flushed
/// first, so a crash never leaves a checkpoint ahead of the metrics.
/// </summary>
/// <param name="folder">The run folder.</param>
/// <param name="metrics">Its metrics log.</param>
/// <param name="trainer">The trainer (its own checkpoints off).</param>
/// <param name="checkpointEvery">Steps between <c>last/</c> checkpoints (0: only at the end).</param>
/// <param name="end">The step the loop stops at.</param>
/// <param name="plot">Redraws the loss plot.</param>
internal sealed class RunCheckpoints(RunFolder folder, MetricsLog metrics, Trainer<float> trainer, long checkpointEvery, long end, Action plot)
{
    /// <summary>The step <c>last/</c> holds (the resumed step until the first commit).</summary>
    public long SavedStep { get; private set; } = trainer.Step;

    /// <summary>Flushes the metrics, commits <c>last/</c> at the trainer's step and redraws the plot.</summary>
    public void SaveLast()
    {
        metrics.Flush();
        trainer.SaveCheckpoint(folder[RunFiles.LastCheckpoint]);
        SavedStep = trainer.Step;
        plot();
    }

    /// <summary>
    /// The trainer's progress reporter: records each step (elapsed time continuing
    /// <paramref name="elapsedBefore"/>), writes the checkpoints, then hands the step to <paramref name="report"/>.
    /// </summary>
    public Reporter<TrainerProgress> Progress(Action<StepMetrics> report, double elapsedBefore, CancellationToken cancel) => new(p =>
    {
        var m = new StepMetrics(p.Step, p.Epoch, p.TrainLoss, p.ValidationLoss, p.LearningRate, p.GradNorm, elapsedBefore + p.Elapsed.TotalSeconds);
        metrics.Add(m);
        if (p.ValidationLoss is not null && trainer.BestStep == p.Step)
            trainer.SaveCheckpoint(folder[RunFiles.BestCheckpoint]);
        // last/ every checkpoint interval and after the step the loop will stop at, before the
        // trainer restores the best weights at the end (as the trainer's own checkpoints do).
        bool final = p.Step >= end || trainer.StoppedEarly || cancel.IsCancellationRequested;
        if ((checkpointEvery > 0 && p.Step % checkpointEvery == 0) || final)
            SaveLast();
        report(m);
    });

    /// <summary>
    /// After the loop: a run cancelled after a step's report, or stopped by a non-finite step, has
    /// that step not yet in <c>last/</c>. After a non-finite stop the weights are the last finite
    /// step's, unless a non-finite validation loss followed weights that are not finite: then
    /// <c>last/</c> keeps what it holds. Then the metrics are flushed and the plot redrawn.
    /// </summary>
    /// <param name="result">What the loop returned.</param>
    public void Finish(TrainerResult? result)
    {
        if (trainer.Step > SavedStep && (result?.NonFinite is null || trainer.WeightsFinite()))
            SaveLast();
        metrics.Flush();
        plot();
    }

    /// <summary>
    /// Ends a run whose loop ran once: <see cref="Finish"/>, then a non-finite stop thrown as an
    /// error naming the step <c>last/</c> holds, and <c>model/</c> published once training has ended.
    /// </summary>
    /// <param name="result">What the loop returned (null: the observer never ran it).</param>
    /// <param name="firstStep">The step this call started after.</param>
    /// <param name="what">The kind of run, for messages.</param>
    /// <exception cref="LstmException">The loop did not run, or stopped at a non-finite step.</exception>
    public TrainingRunResult Conclude(TrainerResult? result, long firstStep, string what)
    {
        Finish(result);
        if (result is null)
            throw new LstmException($"{what}: the observer did not run the training loop");
        if (result.NonFinite is { } stop)
            throw new LstmException($"{stop.Describe()}: training stopped ({RunFiles.LastCheckpoint}/ holds step {SavedStep}); continue with a lower --lr in a new run");
        bool finished = trainer.Step >= trainer.TotalSteps || trainer.StoppedEarly;
        string? published = finished ? folder.PublishModel() : null;
        double? lastLoss = metrics.Records.Count > 0 ? metrics.Records[^1].TrainLoss : null;
        return new TrainingRunResult(folder.Path, result, firstStep, trainer.TotalSteps, finished, published, lastLoss, 0, null);
    }
}

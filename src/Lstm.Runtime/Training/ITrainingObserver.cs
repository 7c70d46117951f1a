using Lstm.Runtime.Persistence;

namespace Lstm.Runtime.Training;

/// <summary>
/// What a <see cref="TrainingRun"/> leaves to its caller: showing progress (a display may wrap the
/// training loop, e.g. in a live progress bar) and drawing the loss curves.
/// </summary>
public interface ITrainingObserver
{
    /// <summary>
    /// Runs <paramref name="train"/>, the training loop, which reports every step's metrics
    /// (as written to <c>metrics.jsonl</c>) to the action it is given.
    /// </summary>
    /// <param name="start">What is trained, where, and from which step.</param>
    /// <param name="train">The loop.</param>
    void Train(TrainingRunStart start, Action<Action<StepMetrics>> train);

    /// <summary>Draws the loss curves of a run's metrics so far as a PNG into <paramref name="file"/> (the run writes it as <c>loss.png</c>, atomically).</summary>
    /// <param name="file">The file to write.</param>
    /// <param name="records">The metrics.</param>
    /// <param name="title">The plot's title.</param>
    void DrawLossPlot(string file, IReadOnlyList<StepMetrics> records, string title);
}

/// <summary>A training run about to take its first step.</summary>
/// <param name="Data">The data, in a line.</param>
/// <param name="Model">The model, its parameter count and its devices, in a line.</param>
/// <param name="Training">The training settings, in a line.</param>
/// <param name="Folder">The run folder.</param>
/// <param name="Resumed">Whether the run continues from its <c>last/</c> checkpoint.</param>
/// <param name="FirstStep">The step training starts after (the checkpoint's when resumed, else 0).</param>
/// <param name="TotalSteps">The step the run's training ends at.</param>
/// <param name="LogEvery">Steps between progress lines (<c>--log-every</c>, else the validation interval).</param>
/// <param name="Recovered">
/// What a resume found an interrupted run had left and set right, a sentence each (a checkpoint
/// moved into place, leftovers removed, metrics cut back to the checkpoint); empty when nothing.
/// </param>
public sealed record TrainingRunStart(string Data, string Model, string Training, string Folder, bool Resumed, long FirstStep, long TotalSteps, int LogEvery, IReadOnlyList<string>? Recovered = null)
{
    /// <summary>The step this call stops at: <c>--until-step</c> where it comes first, else <see cref="TotalSteps"/> (what progress and its ETA count to).</summary>
    public long StopStep { get; init; } = TotalSteps;
    /// <summary>Warnings about the data (too few validation or test windows), a sentence each.</summary>
    public IReadOnlyList<string> DataWarnings { get; init; } = [];
}

/// <summary>How a <see cref="TrainingRun"/> ended.</summary>
/// <param name="Folder">The run folder.</param>
/// <param name="Trainer">The trainer's result.</param>
/// <param name="FirstStep">The step this run started after.</param>
/// <param name="TotalSteps">The step the run is set to end at.</param>
/// <param name="Finished">Whether training has ended (all steps done or stopped early), so that <c>model/</c> holds its weights.</param>
/// <param name="PublishedFrom">The checkpoint whose weights <c>model/</c> holds (<c>best</c> or <c>last</c>), or null when not finished.</param>
/// <param name="LastTrainLoss">The last step's training loss, or null when no step was recorded.</param>
/// <param name="Patience">The early-stopping patience.</param>
/// <param name="Saved">The extra weights file written (<c>--save</c>), or null.</param>
public sealed record TrainingRunResult(
    string Folder, TrainerResult Trainer, long FirstStep, long TotalSteps, bool Finished, string? PublishedFrom, double? LastTrainLoss, int Patience, string? Saved)
{
    /// <summary>
    /// A finished CSV forecast's scores with the published weights: the validation set and the
    /// test set (where the run keeps one), each beside the baselines; empty otherwise.
    /// </summary>
    public IReadOnlyList<EvaluationSet> Scores { get; init; } = [];

    /// <summary>Warnings about the data (too few validation or test windows).</summary>
    public IReadOnlyList<string> DataWarnings { get; init; } = [];
}

/// <summary>An <see cref="IProgress{T}"/> that calls its action at once, on the reporting thread.</summary>
/// <typeparam name="T">What is reported.</typeparam>
/// <param name="action">Called with every report.</param>
public sealed class Reporter<T>(Action<T> action) : IProgress<T>
{
    /// <inheritdoc/>
    public void Report(T value) => action(value);
}

using Lstm.Runtime.Data;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <content>
/// What a <see cref="Trainer{T}"/> does when a step's loss or gradient norm is NaN or infinite:
/// the check costs two host scalars per step (the loss, and the norm clipping computes anyway).
/// Under <see cref="NonFiniteAction.Stop"/> the run stops before that step's update, with the
/// loader put back before its batch, so the model, the optimizer and the data position are the
/// last finite step's and a resume repeats the step; under <see cref="NonFiniteAction.Skip"/> the
/// update is left out and counted.
/// </content>
public sealed partial class Trainer<T>
{
    /// <summary>Steps whose update was skipped because their loss or gradient norm was not finite (<see cref="NonFiniteAction.Skip"/>), since this trainer was made.</summary>
    public long SkippedSteps { get; private set; }

    /// <summary>
    /// Whether a step may update: true when its loss and gradient norm are finite. Otherwise,
    /// skipping, the step is counted as done without an update; stopping, the loader goes back to
    /// <paramref name="before"/> and the step is recorded for <see cref="Run"/>.
    /// </summary>
    private bool Finite(double loss, double norm, DataPosition before)
    {
        if (double.IsFinite(loss) && double.IsFinite(norm))
            return true;
        if (Options.OnNonFinite == NonFiniteAction.Skip)
        {
            SkippedSteps++;
            Step++;
            return false;
        }

        _loader.Restore(before);
        _nonFinite = new NonFiniteStep(Step + 1, loss, norm, null, false);
        return false;
    }

    /// <summary>
    /// Ends a run stopped by a non-finite step: <c>last/</c> gets the state the run stopped in
    /// when its weights are all finite (a non-finite validation loss may follow weights that are
    /// not), else the previous <c>last/</c> stays; <c>best/</c> is never written here.
    /// </summary>
    private TrainerResult StopNonFinite(TimeSpan elapsed)
    {
        var stop = _nonFinite!;
        bool written = false;
        if (Options.CheckpointDirectory is not null && WeightsFinite())
        {
            SaveCheckpoint(LastDirectory!);
            written = true;
        }

        stop = stop with { CheckpointWritten = written };
        _nonFinite = stop;
        return new TrainerResult(Step, StoppedEarly, BestValidationLoss, BestStep, elapsed, stop, SkippedSteps - _skippedBefore);
    }

    /// <summary>Whether every weight is finite (read back once, when a run stops).</summary>
    internal bool WeightsFinite()
    {
        foreach (var (_, parameter) in _parameters)
        {
            foreach (var v in parameter.Value.ToArray())
            {
                if (!double.IsFinite(Num<T>.ToDouble(v)))
                    return false;
            }
        }

        return true;
    }

    /// <summary>A loss for <c>trainer.json</c>, which holds finite numbers only: null when it is not finite.</summary>
    private static double? Finite(double? value) => value is { } v && double.IsFinite(v) ? v : null;
}

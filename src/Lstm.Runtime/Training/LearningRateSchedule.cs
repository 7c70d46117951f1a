namespace Lstm.Runtime.Training;

/// <summary>
/// A learning rate as a function of the number of updates already done (0 before the first),
/// as PyTorch's schedulers stepped once per update. Host-side; set
/// <see cref="Optimizer{T}.LearningRate"/> from <see cref="At"/> before each step.
/// </summary>
public abstract class LearningRateSchedule
{
    /// <summary>The learning rate of the update that follows <paramref name="step"/> updates.</summary>
    /// <param name="step">Updates done (≥ 0).</param>
    public abstract double At(long step);

    /// <summary>Sets the optimizer's learning rate for its next step.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="optimizer">The optimizer.</param>
    public void Apply<T>(Optimizer<T> optimizer) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        optimizer.LearningRate = At(optimizer.StepCount);
    }

    /// <summary>Checks a rate.</summary>
    /// <param name="lr">The rate.</param>
    /// <param name="what">Its name in the message.</param>
    protected static double Check(double lr, string what) =>
        lr >= 0 && !double.IsInfinity(lr) ? lr : throw new LstmException($"{what} {lr} must be a finite number ≥ 0");

    /// <summary>Checks a step count.</summary>
    /// <param name="step">The count.</param>
    protected static void CheckStep(long step)
    {
        if (step < 0)
            throw new LstmException($"schedule step {step} must be ≥ 0");
    }
}

/// <summary>A constant rate.</summary>
public sealed class ConstantSchedule : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="learningRate">lr.</param>
    public ConstantSchedule(double learningRate) => LearningRate = Check(learningRate, "learning rate");

    /// <summary>lr.</summary>
    public double LearningRate { get; }

    /// <inheritdoc/>
    public override double At(long step)
    {
        CheckStep(step);
        return LearningRate;
    }
}

/// <summary><c>StepLR</c>: lr·γ^⌊step / stepSize⌋.</summary>
public sealed class StepSchedule : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="learningRate">The initial lr.</param>
    /// <param name="stepSize">Updates between decays (&gt; 0).</param>
    /// <param name="gamma">The decay factor (PyTorch's default 0.1).</param>
    public StepSchedule(double learningRate, long stepSize, double gamma = 0.1)
    {
        LearningRate = Check(learningRate, "learning rate");
        if (stepSize <= 0)
            throw new LstmException($"step schedule: step size {stepSize} must be > 0");
        StepSize = stepSize;
        Gamma = Check(gamma, "step schedule gamma");
    }

    /// <summary>The initial lr.</summary>
    public double LearningRate { get; }

    /// <summary>Updates between decays.</summary>
    public long StepSize { get; }

    /// <summary>γ.</summary>
    public double Gamma { get; }

    /// <inheritdoc/>
    public override double At(long step)
    {
        CheckStep(step);
        return LearningRate * Math.Pow(Gamma, step / StepSize);
    }
}

/// <summary>
/// <c>CosineAnnealingLR</c> in closed form: min + (lr - min)·(1 + cos(π·t / total)) / 2 with
/// t = min(step, total); after <c>total</c> updates the rate stays at min.
/// </summary>
public sealed class CosineSchedule : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="learningRate">The initial lr.</param>
    /// <param name="totalSteps">T_max (&gt; 0).</param>
    /// <param name="minLearningRate">eta_min.</param>
    public CosineSchedule(double learningRate, long totalSteps, double minLearningRate = 0)
    {
        LearningRate = Check(learningRate, "learning rate");
        if (totalSteps <= 0)
            throw new LstmException($"cosine schedule: total steps {totalSteps} must be > 0");
        TotalSteps = totalSteps;
        MinLearningRate = Check(minLearningRate, "cosine schedule minimum learning rate");
    }

    /// <summary>The initial lr.</summary>
    public double LearningRate { get; }

    /// <summary>T_max.</summary>
    public long TotalSteps { get; }

    /// <summary>eta_min.</summary>
    public double MinLearningRate { get; }

    /// <inheritdoc/>
    public override double At(long step)
    {
        CheckStep(step);
        double t = Math.Min(step, TotalSteps);
        return MinLearningRate + (LearningRate - MinLearningRate) * (1 + Math.Cos(Math.PI * t / TotalSteps)) / 2;
    }
}

/// <summary>
/// Linear warm-up, then another schedule (<c>LinearLR</c> then the next in a <c>SequentialLR</c>):
/// for step &lt; W the rate is after(0)·(f + (1 - f)·step / W); from W on it is after(step - W).
/// </summary>
public sealed class WarmupSchedule : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="warmupSteps">W (≥ 0).</param>
    /// <param name="after">The schedule after warm-up, started at 0 when warm-up ends.</param>
    /// <param name="startFactor">f: the fraction of after(0) on the first update (in [0, 1]).</param>
    public WarmupSchedule(long warmupSteps, LearningRateSchedule after, double startFactor = 0)
    {
        ArgumentNullException.ThrowIfNull(after);
        if (warmupSteps < 0)
            throw new LstmException($"warm-up steps {warmupSteps} must be ≥ 0");
        if (!(startFactor >= 0 && startFactor <= 1))
            throw new LstmException($"warm-up start factor {startFactor} must lie in [0, 1]");
        WarmupSteps = warmupSteps;
        After = after;
        StartFactor = startFactor;
    }

    /// <summary>W.</summary>
    public long WarmupSteps { get; }

    /// <summary>The schedule after warm-up.</summary>
    public LearningRateSchedule After { get; }

    /// <summary>f.</summary>
    public double StartFactor { get; }

    /// <inheritdoc/>
    public override double At(long step)
    {
        CheckStep(step);
        if (step < WarmupSteps)
            return After.At(0) * (StartFactor + (1 - StartFactor) * step / WarmupSteps);
        return After.At(step - WarmupSteps);
    }
}

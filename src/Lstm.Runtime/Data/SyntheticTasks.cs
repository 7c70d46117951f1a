
namespace Lstm.Runtime.Data;

/// <summary>
/// The synthetic benchmark tasks, each a fixed set of samples drawn from a seed (sample i from
/// its own seed, so any order of drawing gives the same samples).
/// </summary>
public static class SyntheticTasks
{
    /// <summary>The task names <see cref="Create"/> accepts.</summary>
    public const string Names = "sine, adding, copy, mackey-glass";

    /// <summary>A task by name.</summary>
    /// <param name="name">sine, adding, copy or mackey-glass.</param>
    /// <param name="steps">T: the window (sine, mackey-glass), the sequence length (adding) or the delay (copy).</param>
    /// <param name="count">Number of samples.</param>
    /// <param name="seed">The seed.</param>
    public static ISequenceDataset Create(string name, int steps, int count, int seed)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Trim().ToLowerInvariant() switch
        {
            "sine" => new SineDataset(steps, count, seed),
            "adding" => new AddingTask(steps, count, seed),
            "copy" => new CopyTask(steps, count, seed),
            "mackey-glass" => MackeyGlass.Windows(steps, count, seed),
            _ => throw new LstmException($"unknown task '{name}' (tasks: {Names})"),
        };
    }

    internal static void CheckSizes(string task, int steps, int count, int minSteps)
    {
        if (steps < minSteps || count < 1)
            throw new LstmException($"{task} task: steps ({steps}) must be ≥ {minSteps} and the sample count ({count}) ≥ 1");
    }
}

/// <summary><see cref="SineTask"/> as a dataset: x [T, 1], y [1] (the next value).</summary>
public sealed class SineDataset : ISequenceDataset
{
    private readonly SineTask _task;
    private readonly int _seed;

    /// <summary>Creates the samples.</summary>
    /// <param name="steps">T.</param>
    /// <param name="count">Number of samples.</param>
    /// <param name="seed">The seed.</param>
    public SineDataset(int steps, int count, int seed)
    {
        SyntheticTasks.CheckSizes("sine", steps, count, 1);
        _task = new SineTask(steps);
        Count = count;
        _seed = seed;
    }

    /// <inheritdoc/>
    public int Count { get; }

    /// <inheritdoc/>
    public int Steps => _task.Steps;

    /// <inheritdoc/>
    public int InputSize => SineTask.InputSize;

    /// <inheritdoc/>
    public int TargetLength => SineTask.OutputSize;

    /// <inheritdoc/>
    public void Fill(int index, Span<double> x, Span<double> y)
    {
        Seeds.CheckIndex(index, Count);
        var (sx, sy) = _task.Sample(new Random(Seeds.Mix(_seed, index)), 1);
        sx.CopyTo(x);
        sy.CopyTo(y);
    }
}

/// <summary>
/// The adding problem (Hochreiter &amp; Schmidhuber 1997): T steps of pairs (value, marker) with
/// values uniform in [-1, 1] as in the original; exactly two markers are 1, one in each half of
/// the sequence, the rest 0. The target is 0.5 + (X1 + X2) / 4, X1 and X2 the marked values, in
/// [0, 1]. Always answering 0.5 scores MSE Var(X1 + X2) / 16 = 1/24 ≈ 0.042, the baseline to beat.
/// </summary>
public sealed class AddingTask : ISequenceDataset
{
    private readonly int _seed;

    /// <summary>Creates the samples.</summary>
    /// <param name="steps">T (≥ 2).</param>
    /// <param name="count">Number of samples.</param>
    /// <param name="seed">The seed.</param>
    public AddingTask(int steps, int count, int seed)
    {
        SyntheticTasks.CheckSizes("adding", steps, count, 2);
        Steps = steps;
        Count = count;
        _seed = seed;
    }

    /// <inheritdoc/>
    public int Count { get; }

    /// <inheritdoc/>
    public int Steps { get; }

    /// <inheritdoc/>
    public int InputSize => 2;

    /// <inheritdoc/>
    public int TargetLength => 1;

    /// <inheritdoc/>
    public void Fill(int index, Span<double> x, Span<double> y)
    {
        Seeds.CheckIndex(index, Count);
        var rng = new Random(Seeds.Mix(_seed, index));
        int half = Steps / 2;
        int first = rng.Next(half);
        int second = half + rng.Next(Steps - half);
        for (int t = 0; t < Steps; t++)
        {
            x[2 * t] = rng.NextDouble() * 2 - 1;
            x[2 * t + 1] = t == first || t == second ? 1 : 0;
        }

        y[0] = 0.5 + (x[2 * first] + x[2 * second]) / 4;
    }
}

/// <summary>
/// The copy task (Arjovsky, Shah &amp; Bengio 2016): ten symbols drawn from 1–8, then T − 1 blanks
/// (0), a delimiter (9) and ten more blanks: T + 20 steps. The target is blank for the first
/// T + 10 steps and the ten symbols for the last ten. x holds each step's class id ([T + 20, 1])
/// or, with one-hot input, [T + 20, 10]; y holds T + 20 class ids. A model that only learns the
/// symbol frequencies scores cross-entropy 10·ln 8 / (T + 20).
/// </summary>
public sealed class CopyTask : ISequenceDataset
{
    /// <summary>Classes: blank 0, symbols 1–8, delimiter 9.</summary>
    public const int Classes = 10;

    /// <summary>Symbols to remember.</summary>
    public const int Length = 10;

    private readonly int _seed;

    /// <summary>Creates the samples.</summary>
    /// <param name="delay">T (≥ 1): blanks between the symbols and the delimiter, plus one.</param>
    /// <param name="count">Number of samples.</param>
    /// <param name="seed">The seed.</param>
    /// <param name="oneHot">Input as one-hot rows of <see cref="Classes"/> instead of class ids.</param>
    public CopyTask(int delay, int count, int seed, bool oneHot = false)
    {
        SyntheticTasks.CheckSizes("copy", delay, count, 1);
        Delay = delay;
        Count = count;
        OneHot = oneHot;
        _seed = seed;
    }

    /// <summary>T.</summary>
    public int Delay { get; }

    /// <summary>Whether x is one-hot.</summary>
    public bool OneHot { get; }

    /// <inheritdoc/>
    public int Count { get; }

    /// <inheritdoc/>
    public int Steps => Delay + 2 * Length;

    /// <inheritdoc/>
    public int InputSize => OneHot ? Classes : 1;

    /// <inheritdoc/>
    public int TargetLength => Steps;

    /// <inheritdoc/>
    public void Fill(int index, Span<double> x, Span<double> y)
    {
        Seeds.CheckIndex(index, Count);
        var rng = new Random(Seeds.Mix(_seed, index));
        var input = new int[Steps];
        for (int k = 0; k < Length; k++)
            input[k] = 1 + rng.Next(8);
        input[Length + Delay - 1] = 9;
        x[..(Steps * InputSize)].Clear();
        for (int t = 0; t < Steps; t++)
        {
            if (OneHot)
                x[t * Classes + input[t]] = 1;
            else
                x[t] = input[t];
            y[t] = t < Delay + Length ? 0 : input[t - Delay - Length];
        }
    }
}

/// <summary>
/// The Mackey–Glass series dx/dt = β·x(t−τ) / (1 + x(t−τ)^10) − γ·x(t) with β = 0.2, γ = 0.1,
/// τ = 17 (chaotic), integrated by Euler's method with dt = 0.1 from a history of 1.2 perturbed
/// by the seed, sampled every time unit after a transient of 1000.
/// </summary>
public static class MackeyGlass
{
    /// <summary>τ.</summary>
    public const int Tau = 17;

    /// <summary>The series, one column <c>x</c> of <paramref name="length"/> rows.</summary>
    /// <param name="length">Samples.</param>
    /// <param name="seed">Perturbs the initial history.</param>
    public static TimeSeries Series(int length, int seed)
    {
        if (length < 1)
            throw new LstmException($"Mackey-Glass series of {length} samples: must be ≥ 1");
        const double dt = 0.1;
        const int perUnit = 10;
        const int transient = 1000;
        int lag = Tau * perUnit;
        var rng = new Random(seed);
        long total = (long)(transient + length) * perUnit;
        var history = new double[lag + 1];
        for (int i = 0; i < history.Length; i++)
            history[i] = 1.2 + 0.1 * (rng.NextDouble() - 0.5);
        int head = lag; // history[head] is x(t); history[(head + 1) % (lag + 1)] is x(t − τ).
        var values = new double[length];
        for (long n = 0; n < total; n++)
        {
            double x = history[head];
            double delayed = history[(head + 1) % (lag + 1)];
            double next = x + dt * (0.2 * delayed / (1 + Math.Pow(delayed, 10)) - 0.1 * x);
            head = (head + 1) % (lag + 1);
            history[head] = next;
            long step = n + 1;
            if (step % perUnit == 0 && step / perUnit > transient)
                values[step / perUnit - transient - 1] = next;
        }

        return new TimeSeries(["x"], values, length);
    }

    /// <summary>Windows of T values predicting the next one (horizon 1), unnormalized: x [T, 1], y [1].</summary>
    /// <param name="steps">T.</param>
    /// <param name="count">Number of windows.</param>
    /// <param name="seed">The series' seed.</param>
    public static ForecastDataset Windows(int steps, int count, int seed)
    {
        SyntheticTasks.CheckSizes("mackey-glass", steps, count, 1);
        var series = Series(steps + count, seed);
        return ForecastDataset.Windows(series, series, steps, 1);
    }
}

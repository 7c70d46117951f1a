using System.Diagnostics;
using System.Globalization;
using Lstm.Runtime.Persistence;
using Spectre.Console;

namespace Lstm.Cli;

/// <summary>
/// Shows training progress: a live Spectre.Console bar (step, loss, validation loss, steps/s,
/// ETA) when stdout is an interactive terminal, else a plain line every N steps and after the
/// last (the mean training loss since the line before, and the latest validation loss if one
/// was computed since), or nothing with <c>--quiet</c>. The verb prints the end summary itself.
/// </summary>
internal abstract class ProgressDisplay
{
    private readonly Stopwatch _clock = new();
    private long _firstStep;
    private double _lossSum;
    private int _lossCount;

    protected ProgressDisplay(long totalSteps) => TotalSteps = totalSteps;

    /// <summary>The step training stops at.</summary>
    protected long TotalSteps { get; }

    /// <summary>The display for a verb's output.</summary>
    /// <param name="stdout">Where the verb writes.</param>
    /// <param name="quiet">Print nothing while training.</param>
    /// <param name="logEvery">Steps between plain lines.</param>
    /// <param name="totalSteps">The last step.</param>
    public static ProgressDisplay Create(TextWriter stdout, bool quiet, int logEvery, long totalSteps)
    {
        if (quiet)
            return new Silent(totalSteps);
        bool terminal = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        return terminal ? new Live(totalSteps) : new Plain(stdout, logEvery, totalSteps);
    }

    /// <summary>Runs <paramref name="training"/>, which reports each step through the action it is given.</summary>
    /// <param name="firstStep">The step training starts after (the checkpoint's step when resuming, else 0).</param>
    /// <param name="training">The training loop.</param>
    public void Run(long firstStep, Action<Action<StepMetrics>> training)
    {
        _firstStep = firstStep;
        _clock.Restart();
        Wrap(() => training(Report));
    }

    /// <summary>Runs the loop (inside a live display, for the terminal).</summary>
    protected virtual void Wrap(Action loop) => loop();

    /// <summary>Shows one step.</summary>
    /// <param name="m">Its metrics.</param>
    /// <param name="meanLoss">The mean training loss since the last line.</param>
    /// <param name="stepsPerSecond">Steps per second so far.</param>
    /// <param name="eta">Estimated time left.</param>
    /// <returns>Whether the mean loss was shown (and starts over).</returns>
    protected abstract bool Show(StepMetrics m, double meanLoss, double stepsPerSecond, TimeSpan eta);

    private void Report(StepMetrics m)
    {
        _lossSum += m.TrainLoss;
        _lossCount++;
        double seconds = _clock.Elapsed.TotalSeconds;
        double rate = seconds > 0 ? (m.Step - _firstStep) / seconds : 0;
        var eta = rate > 0 ? TimeSpan.FromSeconds((TotalSteps - m.Step) / rate) : TimeSpan.Zero;
        if (Show(m, _lossSum / _lossCount, rate, eta))
        {
            _lossSum = 0;
            _lossCount = 0;
        }
    }

    /// <summary>A duration as <c>1h02m</c>, <c>3m07s</c> or <c>12s</c>.</summary>
    public static string FormatDuration(TimeSpan t) =>
        t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m" : t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes}m{t.Seconds:00}s" : $"{t.TotalSeconds:F0}s";

    /// <summary>A loss with five decimals, or four significant digits and an exponent when it is below 0.001 or huge.</summary>
    public static string FormatLoss(double v) => v.ToString(Math.Abs(v) is >= 1e-3 and < 1e5 or 0 ? "F5" : "0.000e+00", CultureInfo.InvariantCulture);

    private sealed class Silent(long totalSteps) : ProgressDisplay(totalSteps)
    {
        protected override bool Show(StepMetrics m, double meanLoss, double stepsPerSecond, TimeSpan eta) => true;
    }

    private sealed class Plain(TextWriter stdout, int logEvery, long totalSteps) : ProgressDisplay(totalSteps)
    {
        private double? _validation;

        protected override bool Show(StepMetrics m, double meanLoss, double stepsPerSecond, TimeSpan eta)
        {
            _validation = m.ValLoss ?? _validation;
            if (m.Step % logEvery != 0 && m.Step != TotalSteps)
                return false;
            string width = TotalSteps.ToString(CultureInfo.InvariantCulture);
            string val = _validation is { } v ? $"  val loss {FormatLoss(v)}" : "";
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"step {m.Step.ToString(CultureInfo.InvariantCulture).PadLeft(width.Length)}/{width}  epoch {m.Epoch}  train loss {FormatLoss(meanLoss)}{val}  lr {m.Lr:G3}  {stepsPerSecond:F1} steps/s  ETA {FormatDuration(eta)}"));
            _validation = null;
            return true;
        }
    }

    private sealed class Live(long totalSteps) : ProgressDisplay(totalSteps)
    {
        private ProgressTask? _task;
        private double? _lastValidation;

        protected override void Wrap(Action loop) =>
            AnsiConsole.Progress()
                .AutoClear(false)
                .HideCompleted(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    _task = ctx.AddTask("training", maxValue: TotalSteps);
                    _task.Value = _firstStep;
                    loop();
                });

        protected override bool Show(StepMetrics m, double meanLoss, double stepsPerSecond, TimeSpan eta)
        {
            if (_task is null)
                return false;
            _lastValidation = m.ValLoss ?? _lastValidation;
            string val = _lastValidation is { } v ? $"  val {FormatLoss(v)}" : "";
            _task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                $"step {m.Step}/{TotalSteps}  loss {FormatLoss(meanLoss)}{val}  {stepsPerSecond:F1} steps/s  ETA {FormatDuration(eta)}"));
            _task.Value = m.Step;
            return m.Step % 10 == 0;
        }
    }
}

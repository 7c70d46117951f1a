using System.Globalization;
using Lstm.Runtime.Training;

namespace Lstm.Cli;

/// <summary><c>lstm eval</c>: the options as <see cref="EvaluationSettings"/>, the <see cref="Evaluation"/>'s metrics printed.</summary>
internal static class EvalCommand
{
    public static int Execute(EvalOptions o, TextWriter stdout)
    {
        if (ClassificationRun.IsClassificationRun(o.Run))
            return ClassifyCommand.Eval(o, stdout);
        using var evaluation = Evaluation.Open(new EvaluationSettings
        {
            Run = o.Run,
            Device = o.Device,
            BatchSize = o.BatchSize,
            Seed = o.Seed,
            Data = o.Selection,
        });
        stdout.WriteLine($"evaluating {evaluation.ModelDirectory} ({evaluation.Model}) on {evaluation.What}, on {evaluation.Device}");
        var m = evaluation.Measure();
        if (m.IsClasses)
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"cross-entropy {m.CrossEntropy:F5} nats  perplexity {Math.Exp(m.CrossEntropy):F4}  accuracy {100.0 * m.Correct / m.Count:F2}% ({m.Correct} of {m.Count} predictions; uniform guessing: perplexity {m.Classes})"));
            return Program.Ok;
        }

        static string F(double v) => v.ToString("G8", CultureInfo.InvariantCulture);
        if (m.NormalizedMse is { } normalized)
            stdout.WriteLine($"loss (MSE of the z-scored targets): {F(normalized)}");
        foreach (var c in m.Columns)
            stdout.WriteLine($"{c.Name}: MSE {F(c.Mse)}  RMSE {F(c.Rmse)}  MAE {F(c.Mae)}{(c.OriginalUnits ? " (original units)" : "")}");
        return Program.Ok;
    }
}

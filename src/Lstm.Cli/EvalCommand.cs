using System.Globalization;
using Lstm.Runtime.Training;

namespace Lstm.Cli;

/// <summary><c>lstm eval</c>: the options as <see cref="EvaluationSettings"/>, the <see cref="Evaluation"/>'s metrics printed.</summary>
internal static class EvalCommand
{
    public static int Execute(EvalOptions o, TextWriter stdout)
    {
        using var evaluation = Evaluation.Open(new EvaluationSettings
        {
            Run = o.Run,
            Device = o.Device,
            BatchSize = o.BatchSize,
            Seed = o.Seed,
            Data = o.Selection,
            Season = o.Season ?? 0,
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
        if (m.Forecast is { } forecast)
            PrintSteps(forecast, stdout);
        return Program.Ok;
    }

    /// <summary>Forecasts: the RMSE and MAE of each step ahead beside persistence's (and seasonal naive's).</summary>
    internal static void PrintSteps(ForecastScore s, TextWriter stdout)
    {
        static string F(double v) => v.ToString("G5", CultureInfo.InvariantCulture);
        bool seasonal = s.SeasonalNaive.Count > 0;
        stdout.WriteLine($"per step ahead (RMSE / MAE, original units): model | persistence{(seasonal ? $" | seasonal naive (season {s.Season})" : "")}");
        for (int j = 0; j < s.Steps.Count; j++)
        {
            var (m, p) = (s.Steps[j], s.Persistence[j]);
            string sn = seasonal ? $" | {F(s.SeasonalNaive[j].Rmse)} / {F(s.SeasonalNaive[j].Mae)}" : "";
            stdout.WriteLine($"  {m.Column} +{m.Step}: {F(m.Rmse)} / {F(m.Mae)} | {F(p.Rmse)} / {F(p.Mae)}{sn}");
        }

        stdout.WriteLine($"overall RMSE: model {F(ForecastScore.OverallRmse(s.Steps))}, persistence {F(ForecastScore.OverallRmse(s.Persistence))}{(seasonal ? $", seasonal naive {F(ForecastScore.OverallRmse(s.SeasonalNaive))}" : "")}");
    }
}

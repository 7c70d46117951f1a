using System.Globalization;
using Lstm.Runtime.Training;

namespace Lstm.Cli;

/// <summary><c>lstm eval</c>: the options as <see cref="EvaluationSettings"/>, the <see cref="Evaluation"/>'s metrics printed.</summary>
internal static class EvalCommand
{
    public static int Execute(EvalOptions o, TextWriter stdout)
    {
        if (Seq2SeqRun.IsSeq2SeqRun(o.Run))
            return Seq2SeqCommand.Eval(o, stdout);
        if (ClassificationRun.IsClassificationRun(o.Run))
            return ClassifyCommand.Eval(o, stdout);
        using var evaluation = Evaluation.Open(new EvaluationSettings
        {
            Run = o.Run,
            Device = o.Device,
            BatchSize = o.BatchSize,
            Seed = o.Seed,
            Data = o.Selection,
            Output = o.Output,
        });
        stdout.WriteLine($"evaluating {evaluation.ModelDirectory} ({evaluation.Model}) on {evaluation.What}, on {evaluation.Device}");
        var sets = evaluation.MeasureAll();
        bool several = sets.Count > 1;
        foreach (var set in sets)
        {
            if (several)
                stdout.WriteLine($"{set.Name}: {set.Description}");
            var m = set.Metrics;
            if (m.IsClasses)
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"cross-entropy {m.CrossEntropy:F5} nats ({m.Bits:F5} bits per {(evaluation.Model.Contains("language model", StringComparison.Ordinal) ? "character" : "prediction")})  perplexity {m.Perplexity:F4}  accuracy {100.0 * m.Correct / m.Count:F2}% ({m.Correct} of {m.Count} predictions; uniform guessing: perplexity {m.Classes})"));
                foreach (string warning in set.Warnings)
                    stdout.WriteLine($"warning: {warning}");
                continue;
            }

            PrintForecast(set, stdout);
        }

        if (o.Output is { } output)
        {
            PredictionsFile.Write(output, sets);
            stdout.WriteLine($"wrote {output}: each window's forecast beside the truth ({string.Join(", ", sets.Select(s => $"{s.Truth!.Length / Math.Max(1, s.Metrics.Columns.Count * s.Horizon)} {s.Name}"))})");
        }

        return Program.Ok;
    }

    /// <summary>A forecast's scores: the z-scored loss, each column's error, and the baselines on the same windows with the model's skill and a warning where a baseline wins.</summary>
    internal static void PrintForecast(EvaluationSet set, TextWriter stdout)
    {
        var m = set.Metrics;
        if (m.NormalizedMse is { } normalized)
            stdout.WriteLine($"loss (MSE of the z-scored targets): {F(normalized)}");
        foreach (var c in m.Columns)
            stdout.WriteLine($"{c.Name}: MSE {F(c.Mse)}  RMSE {F(c.Rmse)}  MAE {F(c.Mae)}{(c.OriginalUnits ? " (original units)" : "")}");
        if (m.Forecast is { } forecast)
            PrintSteps(forecast, stdout);
        foreach (var comparison in set.Baselines)
        {
            var rows = new List<(string Name, double Rmse, double Mae)> { ("model", comparison.Model.Rmse, comparison.Model.Mae) };
            rows.AddRange(comparison.Baselines.Select(b => (b.Name, b.Rmse, b.Mae)));
            int width = Math.Max(comparison.Model.Name.Length, rows.Max(r => r.Name.Length)) + 2;
            stdout.WriteLine($"  {comparison.Model.Name.PadRight(width)}{"RMSE",14}{"MAE",14}");
            foreach (var (name, rmse, mae) in rows)
                stdout.WriteLine($"  {name.PadRight(width)}{F(rmse),14}{F(mae),14}");
            if (comparison.Best is { } best && comparison.Skill is { } skill)
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {comparison.Model.Name}: skill {skill:F4} against the best baseline, {best.Name} (1 − RMSE model / RMSE best)"));
            foreach (var b in comparison.Beating)
                stdout.WriteLine($"warning: on the {set.Name} windows the model loses to {b.Name} on {comparison.Model.Name} (RMSE {F(comparison.Model.Rmse)} against {F(b.Rmse)})");
        }

        foreach (string note in set.Notes)
            stdout.WriteLine($"note: {note}");
        foreach (string warning in set.Warnings)
            stdout.WriteLine($"warning: {warning}");
    }

    private static string F(double v) => v.ToString("G6", CultureInfo.InvariantCulture);

    /// <summary>Forecasts: the RMSE and MAE of each step ahead beside persistence's (and seasonal naive's).</summary>
    internal static void PrintSteps(ForecastScore s, TextWriter stdout)
    {
        static string G(double v) => v.ToString("G5", CultureInfo.InvariantCulture);
        bool seasonal = s.SeasonalNaive.Count > 0;
        stdout.WriteLine($"per step ahead (RMSE / MAE, original units): model | persistence{(seasonal ? $" | seasonal naive (season {s.Season})" : "")}");
        for (int j = 0; j < s.Steps.Count; j++)
        {
            var (m, p) = (s.Steps[j], s.Persistence[j]);
            string sn = seasonal ? $" | {G(s.SeasonalNaive[j].Rmse)} / {G(s.SeasonalNaive[j].Mae)}" : "";
            stdout.WriteLine($"  {m.Column} +{m.Step}: {G(m.Rmse)} / {G(m.Mae)} | {G(p.Rmse)} / {G(p.Mae)}{sn}");
        }

        stdout.WriteLine($"overall RMSE: model {G(ForecastScore.OverallRmse(s.Steps))}, persistence {G(ForecastScore.OverallRmse(s.Persistence))}{(seasonal ? $", seasonal naive {G(ForecastScore.OverallRmse(s.SeasonalNaive))}" : "")}");
    }
}


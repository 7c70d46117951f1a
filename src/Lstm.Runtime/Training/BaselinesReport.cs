using Lstm.Runtime.Data;
using Lstm.Runtime.Models;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <summary>A baseline's error on a set's windows, in original units.</summary>
/// <param name="Name">The baseline.</param>
/// <param name="Rmse">Root mean squared error.</param>
/// <param name="Mae">Mean absolute error.</param>
public sealed record BaselineError(string Name, double Rmse, double Mae);

/// <summary>A model's error on one target column beside the baselines' on the same windows.</summary>
/// <param name="Model">The model's error (original units).</param>
/// <param name="Baselines">Each baseline's error.</param>
public sealed record BaselineComparison(ColumnError Model, IReadOnlyList<BaselineError> Baselines)
{
    /// <summary>The baseline of the lowest RMSE, or null when there is none.</summary>
    public BaselineError? Best => Baselines.Count == 0 ? null : Baselines.MinBy(b => b.Rmse);

    /// <summary>The model's skill against the best baseline, 1 − RMSE_model / RMSE_best: 1 is perfect, 0 no better, below 0 worse; null without a baseline or when the best is exact.</summary>
    public double? Skill => Best is { Rmse: > 0 } b ? 1 - Model.Rmse / b.Rmse : null;

    /// <summary>The baselines whose RMSE is lower than the model's.</summary>
    public IEnumerable<BaselineError> Beating => Baselines.Where(b => b.Rmse < Model.Rmse);
}

/// <summary>One evaluated set of samples: the model's metrics and, for a CSV forecast, the baselines beside them.</summary>
/// <param name="Name">validation, test, or data (other data).</param>
/// <param name="Description">What the samples are, in words.</param>
/// <param name="Metrics">The model's metrics.</param>
/// <param name="Baselines">Each target column's comparison with the baselines (empty where there are none).</param>
/// <param name="Notes">Sentences about the baselines (left out, not fitted).</param>
public sealed record EvaluationSet(string Name, string Description, EvaluationMetrics Metrics, IReadOnlyList<BaselineComparison> Baselines, IReadOnlyList<string> Notes)
{
    /// <summary>Sentences worth a warning about the set itself (too few windows to trust its scores).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>The model's forecasts [windows, H·O] in original units (value models; null for classes).</summary>
    public double[]? Predictions { get; init; }

    /// <summary>The true values [windows, H·O] in original units (value models; null for classes).</summary>
    public double[]? Truth { get; init; }

    /// <summary>The rows the windows forecast, and their labels, when the samples are a CSV's windows (else the sample index names each).</summary>
    public ForecastRows? Rows { get; init; }

    /// <summary>The first window's (last) target row in <see cref="Rows"/>.</summary>
    public int FirstRow { get; init; }

    /// <summary>H, the steps each window forecasts: <see cref="Predictions"/> and <see cref="Truth"/> hold H·O values per window, step-major.</summary>
    public int Horizon { get; init; } = 1;
}

/// <summary>Forecasts of a value model on a set of windows, scored in original units beside the baselines.</summary>
public static class ForecastScoring
{
    /// <summary>
    /// The model's predictions and the true values of every sample, in original units
    /// (<paramref name="stats"/> undone), and the MSE of the normalized values.
    /// </summary>
    /// <param name="model">A value model.</param>
    /// <param name="data">The samples, in the model's (normalized) units.</param>
    /// <param name="batchSize">Samples per forward pass.</param>
    /// <param name="stats">The targets' z-score statistics, or null when not normalized.</param>
    public static (double[] Predictions, double[] Truth, double NormalizedMse) Predict(ISequenceModel<float> model, ISequenceDataset data, int batchSize, ZScoreStatistics? stats)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        int o = model.OutputSize;
        var predictions = new double[data.Count * o];
        var truth = new double[data.Count * o];
        double normalizedSse = 0;
        int done = 0;
        foreach (var (x, y, b) in Evaluation.Batches(data, batchSize))
        {
            using var input = Tensor<float>.FromArray(model.Device, Array.ConvertAll(x, v => (float)v), b, data.Steps, data.InputSize);
            using var output = model.Forward(input);
            var flat = output.ToArray();
            for (int i = 0; i < b; i++)
            {
                for (int k = 0; k < o; k++)
                {
                    double p = flat[i * o + k], t = y[i * o + k];
                    normalizedSse += (p - t) * (p - t);
                    if (stats is not null)
                    {
                        p = stats.Denormalize(k, p);
                        t = stats.Denormalize(k, t);
                    }

                    predictions[(done + i) * o + k] = p;
                    truth[(done + i) * o + k] = t;
                }
            }

            done += b;
        }

        return (predictions, truth, data.Count == 0 ? 0 : normalizedSse / (data.Count * o));
    }

    /// <summary>The error of column <paramref name="column"/> of [n, O] forecasts against the truth.</summary>
    /// <param name="predictions">[n, O].</param>
    /// <param name="truth">[n, O].</param>
    /// <param name="o">O.</param>
    /// <param name="column">The column.</param>
    public static (double Mse, double Mae) Errors(ReadOnlySpan<double> predictions, ReadOnlySpan<double> truth, int o, int column)
    {
        int n = truth.Length / o;
        if (n == 0)
            return (double.NaN, double.NaN);
        double sse = 0, sae = 0;
        for (int i = 0; i < n; i++)
        {
            double e = predictions[i * o + column] - truth[i * o + column];
            sse += e * e;
            sae += Math.Abs(e);
        }

        return (sse / n, sae / n);
    }

    /// <summary>
    /// Scores a value model on one set: its metrics, and with <paramref name="baselines"/> and
    /// <paramref name="rows"/> (a CSV's windows, the set's target rows from
    /// <paramref name="firstRow"/>) each baseline on the same windows, against the file's values.
    /// </summary>
    /// <param name="name">validation, test or data.</param>
    /// <param name="description">What the samples are.</param>
    /// <param name="model">A value model.</param>
    /// <param name="data">The samples.</param>
    /// <param name="batchSize">Samples per forward pass.</param>
    /// <param name="stats">The targets' statistics, or null.</param>
    /// <param name="names">The target columns' names, or null.</param>
    /// <param name="rows">The series the windows come from, or null (a synthetic task).</param>
    /// <param name="firstRow">The first window's target row in <paramref name="rows"/>.</param>
    /// <param name="baselines">The run's baselines, one per step ahead (<see cref="ForecastBaselines.FitSteps"/>), or null.</param>
    /// <param name="notes">Sentences to report with the set.</param>
    /// <param name="warnings">Warnings about the set (too few windows).</param>
    public static EvaluationSet Score(
        string name, string description, ISequenceModel<float> model, ISequenceDataset data, int batchSize, ZScoreStatistics? stats,
        IReadOnlyList<string>? names, ForecastRows? rows, int firstRow, IReadOnlyList<ForecastBaselines>? baselines, IEnumerable<string> notes, IEnumerable<string> warnings)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(notes);
        ArgumentNullException.ThrowIfNull(warnings);
        if (data is ForecastDataset forecast && model is SequenceNetwork<float> network && data.Count > 0)
            return ScoreSteps(name, description, network, forecast, batchSize, names, rows, firstRow, baselines, notes, warnings);
        var (predictions, truth, normalized) = Predict(model, data, batchSize, stats);
        int o = model.OutputSize;
        if (rows is not null && data.Count > 0)
        {
            // The file's own values, not their z-scores undone (which may differ in the last bits).
            for (int i = 0; i < data.Count; i++)
            {
                for (int k = 0; k < o; k++)
                    truth[i * o + k] = rows.Value(firstRow + i, k);
            }
        }

        var columns = new ColumnError[o];
        for (int k = 0; k < o; k++)
        {
            var (mse, mae) = Errors(predictions, truth, o, k);
            string column = names is not null && k < names.Count ? names[k] : o == 1 ? "target" : $"output {k}";
            columns[k] = new ColumnError(column, mse, Math.Sqrt(mse), mae, stats is not null);
        }

        var allNotes = notes.ToList();
        var comparisons = rows is not null && data.Count > 0 ? Compare(columns, rows, firstRow, data.Count, 1, baselines, allNotes) : [];
        var metrics = new EvaluationMetrics(stats is not null ? normalized : null, columns, 0, 0, 0, 0);
        return new EvaluationSet(name, description, metrics, comparisons, allNotes.Distinct().ToArray())
        {
            Predictions = predictions,
            Truth = truth,
            Rows = rows,
            FirstRow = firstRow,
            Warnings = warnings.ToArray(),
        };
    }

    /// <summary>
    /// A forecast of H steps: the per-step errors beside persistence and seasonal naive
    /// (<see cref="StepScoring"/>), each column's error over all H steps in original units, and the
    /// baselines scored the same way (one fitted per step ahead, on the same target rows).
    /// </summary>
    private static EvaluationSet ScoreSteps(
        string name, string description, SequenceNetwork<float> model, ForecastDataset data, int batchSize,
        IReadOnlyList<string>? names, ForecastRows? rows, int firstRow, IReadOnlyList<ForecastBaselines>? baselines, IEnumerable<string> notes, IEnumerable<string> warnings)
    {
        int n = data.TargetLength;
        var predictions = new double[data.Count * n];
        var truth = new double[data.Count * n];
        int season = baselines is { Count: > 0 } b && b[0].Columns.Count > 0 ? b[0].Columns[0].Season ?? 0 : 0;
        if (season > 0)
        {
            // Seasonal naive per step only where the first window has a value a season (or more, for later steps) back; the baselines note it otherwise.
            int lastRow = data.FirstRow + data.Transform.Difference + data.Steps - 1;
            int back = Enumerable.Range(1, data.Horizon).Max(k => season * ((k + season - 1) / season) - k);
            if (lastRow - back < 0)
                season = 0;
        }

        var score = StepScoring.Score(model, data, batchSize, names, season, predictions, truth);
        var allNotes = notes.ToList();
        var comparisons = rows is not null ? Compare(score.Columns, rows, firstRow, data.Count, data.Horizon, baselines, allNotes) : [];
        var metrics = new EvaluationMetrics(data.Transform.UsesStatistics ? score.NormalizedMse : null, score.Columns, 0, 0, 0, 0) { Forecast = score };
        return new EvaluationSet(name, description, metrics, comparisons, allNotes.Distinct().ToArray())
        {
            Predictions = predictions,
            Truth = truth,
            Rows = rows,
            FirstRow = firstRow,
            Horizon = data.Horizon,
            Warnings = warnings.ToArray(),
        };
    }

    /// <summary>
    /// Each column's model error beside each baseline's over the same windows and steps: window i
    /// forecasts step k (1..H) at row firstRow + i − (H − k), by the baselines fitted for k ahead.
    /// </summary>
    private static List<BaselineComparison> Compare(
        IReadOnlyList<ColumnError> columns, ForecastRows rows, int firstRow, int count, int horizon, IReadOnlyList<ForecastBaselines>? baselines, List<string> notes)
    {
        var comparisons = new List<BaselineComparison>();
        if (baselines is null || baselines.Count < horizon)
            return comparisons;
        for (int c = 0; c < columns.Count; c++)
        {
            var totals = new List<(string Key, string Name, double Sse, double Sae, int N, SortedSet<int> Orders)>();
            for (int k = 1; k <= horizon; k++)
            {
                var stepRows = rows with { Horizon = k };
                int first = firstRow - (horizon - k);
                var actual = new double[count];
                for (int i = 0; i < count; i++)
                    actual[i] = rows.Value(first + i, c);
                foreach (var b in baselines[k - 1].Predict(stepRows, c, first, count, notes))
                {
                    var (mse, mae) = Errors(b.Predictions, actual, 1, 0);
                    bool ar = b.Name.StartsWith("linear AR", StringComparison.Ordinal);
                    string key = ar ? "linear AR" : b.Name;
                    int at = totals.FindIndex(t => t.Key == key);
                    if (at < 0)
                    {
                        totals.Add((key, b.Name, 0, 0, 0, []));
                        at = totals.Count - 1;
                    }

                    var t = totals[at];
                    if (ar)
                        t.Orders.Add(baselines[k - 1].Columns[c].Order);
                    totals[at] = (t.Key, t.Name, t.Sse + mse, t.Sae + mae, t.N + 1, t.Orders);
                }
            }

            // A baseline missing at some step (no value far enough back) is left out altogether, so that each is scored on every step the model is.
            var errors = totals.Where(t => t.N == horizon).Select(t => new BaselineError(
                t.Orders.Count > 1 ? $"linear AR({t.Orders.Min}–{t.Orders.Max}, by step)" : t.Name, Math.Sqrt(t.Sse / horizon), t.Sae / horizon)).ToList();
            comparisons.Add(new BaselineComparison(columns[c], errors));
        }

        return comparisons;
    }

    /// <summary>
    /// A value model on a CSV run's own split: the validation windows and, where the run keeps
    /// test rows, the test windows, each beside the baselines fitted on the training rows
    /// (<paramref name="season"/> rows per season, or 0 to detect it).
    /// </summary>
    /// <param name="model">A value model.</param>
    /// <param name="data">The run's data, prepared (with its rows).</param>
    /// <param name="batchSize">Samples per forward pass.</param>
    /// <param name="season">Rows per season, or 0.</param>
    public static IReadOnlyList<EvaluationSet> ScoreSplit(ISequenceModel<float> model, PreparedData data, int batchSize, int season)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        var rows = data.Forecast;
        var baselines = rows is null ? null : ForecastBaselines.FitSteps(rows, season, data.Validation is ForecastDataset f ? f.Horizon : 1);
        var targets = data.Spec.Source == "csv" ? data.Spec.Targets : null;
        var warnings = data.Warnings;
        var sets = new List<EvaluationSet>
        {
            Score("validation", Describe("validation", data.Validation.Count, rows, rows?.TrainRows ?? 0, "chose the checkpoint"), model, data.Validation, batchSize,
                data.TargetStats, targets, rows, rows?.TrainRows ?? 0, baselines, [], warnings.Where(w => w.Contains("validation", StringComparison.Ordinal))),
        };
        if (data.Test.Count > 0 && rows is not null)
        {
            sets.Add(Score("test", Describe("test", data.Test.Count, rows, rows.TestStart, "never trained on nor used to choose a checkpoint"), model, data.Test, batchSize,
                data.TargetStats, targets, rows, rows.TestStart, baselines, [], warnings.Where(w => w.Contains("test", StringComparison.Ordinal))));
        }

        return sets;
    }

    /// <summary>A set's samples in words: how many windows, which target rows (1-based data rows) and their labels.</summary>
    internal static string Describe(string name, int count, ForecastRows? rows, int firstRow, string role)
    {
        if (rows is null)
            return $"the run's {count} {name} samples";
        string span = count == 0 ? "" : $", target rows {firstRow + 1}-{firstRow + count}";
        if (count > 0 && rows.Labels is { } labels)
            span += $" ({rows.LabelName} {labels[firstRow]} to {labels[firstRow + count - 1]})";
        return $"{count} {name} window{(count == 1 ? "" : "s")}{span}: {role}";
    }
}

using Lstm.Runtime.Data;
using Lstm.Runtime.Models;

namespace Lstm.Runtime.Training;

/// <summary>The error of one target column k steps ahead (k = 1..H), in original units.</summary>
/// <param name="Step">k.</param>
/// <param name="Column">The target column's name.</param>
/// <param name="Mse">Mean squared error.</param>
/// <param name="Rmse">Its root.</param>
/// <param name="Mae">Mean absolute error.</param>
public sealed record StepError(int Step, string Column, double Mse, double Rmse, double Mae);

/// <summary>
/// A forecast model's errors in original units on a <see cref="ForecastDataset"/>, per target column
/// over all H steps and per step ahead, beside two naive forecasts on the same samples:
/// persistence (every step = the window's last value) and, where a season P is given, seasonal
/// naive (step k = the value P·⌈k/P⌉ rows before it).
/// </summary>
/// <param name="NormalizedMse">The MSE of the model's outputs against its targets (the training loss).</param>
/// <param name="Columns">Each target column over all steps.</param>
/// <param name="Steps">Each step ahead of each column (step-major).</param>
/// <param name="Persistence">Persistence's errors, as <paramref name="Steps"/>.</param>
/// <param name="SeasonalNaive">Seasonal naive's errors, as <paramref name="Steps"/>; empty without a season.</param>
/// <param name="Season">P, or 0.</param>
public sealed record ForecastScore(
    double NormalizedMse, IReadOnlyList<ColumnError> Columns, IReadOnlyList<StepError> Steps,
    IReadOnlyList<StepError> Persistence, IReadOnlyList<StepError> SeasonalNaive, int Season)
{
    /// <summary>The root of the mean of the per-step MSEs of <paramref name="errors"/> (all steps and columns).</summary>
    /// <param name="errors">Per-step errors.</param>
    public static double OverallRmse(IReadOnlyList<StepError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        return errors.Count == 0 ? double.NaN : Math.Sqrt(errors.Average(e => e.Mse));
    }
}

/// <summary>Scores a forecast model on a <see cref="ForecastDataset"/> (<see cref="Score"/>).</summary>
public static class StepScoring
{
    /// <summary>
    /// Runs the model over every sample in index order and measures it and the naive forecasts in
    /// the target columns' original units (the transform undone).
    /// </summary>
    /// <param name="model">A value model whose output is the dataset's O·H targets.</param>
    /// <param name="data">The samples.</param>
    /// <param name="batchSize">Samples per forward pass.</param>
    /// <param name="names">The target columns' names, or null (<c>target</c>, <c>output k</c>).</param>
    /// <param name="season">P for seasonal naive (≥ 1), or 0 for none.</param>
    /// <param name="predictions">Where given, [Count, H·O] out: the model's forecasts in original units.</param>
    /// <param name="truths">Where given, [Count, H·O] out: the true values.</param>
    public static ForecastScore Score(SequenceNetwork<float> model, ForecastDataset data, int batchSize, IReadOnlyList<string>? names = null, int season = 0, double[]? predictions = null, double[]? truths = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        if (season < 0)
            throw new LstmException($"--season {season}: must be ≥ 1");
        if (data.Count == 0)
            throw new LstmException("no samples to score");
        int o = data.Outputs, h = data.Horizon, n = o * h;
        if (model.OutputSize != n)
            throw new LstmException($"the model gives {model.OutputSize} values; the data has {n} targets ({h} steps of {o} columns)");
        var model2 = new Accumulator(n);
        var persistence = new Accumulator(n);
        var seasonal = new Accumulator(n);
        var values = new double[n];
        var truth = new double[n];
        double normalizedSse = 0;
        int start = 0;
        foreach (var (x, y, b) in Evaluation.Batches(data, batchSize))
        {
            var rows = model.Predict(Array.ConvertAll(x, v => (float)v), b, data.Steps);
            for (int i = 0; i < b; i++)
            {
                int index = start + i;
                var p = Array.ConvertAll(rows[i], v => (double)v);
                for (int j = 0; j < n; j++)
                    normalizedSse += (p[j] - y[i * n + j]) * (p[j] - y[i * n + j]);
                data.ToValues(index, p, values);
                data.Truth(index, truth);
                if (predictions is not null)
                    values.CopyTo(predictions.AsSpan(index * n));
                if (truths is not null)
                    truth.CopyTo(truths.AsSpan(index * n));
                model2.Add(values, truth);
                for (int k = 0; k < h; k++)
                {
                    for (int c = 0; c < o; c++)
                        values[k * o + c] = data.LastValue(index, c);
                }

                persistence.Add(values, truth);
                if (season > 0)
                {
                    for (int k = 0; k < h; k++)
                    {
                        // Step k + 1 takes the value P·⌈(k + 1)/P⌉ rows before it: back from the last row by that less k + 1.
                        int back = season * ((k + season) / season) - (k + 1);
                        for (int c = 0; c < o; c++)
                            values[k * o + c] = data.LastValue(index, c, back);
                    }

                    seasonal.Add(values, truth);
                }
            }

            start += b;
        }

        string Name(int c) => names is not null && c < names.Count ? names[c] : o == 1 ? "target" : $"output {c}";
        var columns = new ColumnError[o];
        for (int c = 0; c < o; c++)
        {
            double sse = 0, sae = 0;
            for (int k = 0; k < h; k++)
            {
                sse += model2.Sse[k * o + c];
                sae += model2.Sae[k * o + c];
            }

            double mse = sse / (data.Count * (double)h);
            columns[c] = new ColumnError(Name(c), mse, Math.Sqrt(mse), sae / (data.Count * (double)h), true);
        }

        return new ForecastScore(normalizedSse / ((double)data.Count * n), columns, model2.Errors(data.Count, h, o, Name),
            persistence.Errors(data.Count, h, o, Name), season > 0 ? seasonal.Errors(data.Count, h, o, Name) : [], season);
    }

    private sealed class Accumulator(int n)
    {
        public double[] Sse { get; } = new double[n];

        public double[] Sae { get; } = new double[n];

        public void Add(double[] predicted, double[] truth)
        {
            for (int j = 0; j < predicted.Length; j++)
            {
                double e = predicted[j] - truth[j];
                Sse[j] += e * e;
                Sae[j] += Math.Abs(e);
            }
        }

        public StepError[] Errors(int count, int h, int o, Func<int, string> name)
        {
            var errors = new StepError[h * o];
            for (int k = 0; k < h; k++)
            {
                for (int c = 0; c < o; c++)
                {
                    int j = k * o + c;
                    double mse = Sse[j] / count;
                    errors[j] = new StepError(k + 1, name(c), mse, Math.Sqrt(mse), Sae[j] / count);
                }
            }

            return errors;
        }
    }
}

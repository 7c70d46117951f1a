using System.Globalization;
using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <summary>The settings of an evaluation (<c>lstm eval</c>); the constants are the defaults, <see cref="Validate"/> holds the rules.</summary>
public sealed record EvaluationSettings
{
    /// <summary>The default samples per forward pass.</summary>
    public const int DefaultBatchSize = 64;

    /// <summary>The default seed of a synthetic task's evaluation samples.</summary>
    public const int DefaultSeed = 12345;

    /// <summary>The run folder (its best/ checkpoint, else last/).</summary>
    public string Run { get; init; } = "";

    /// <summary>The device's name.</summary>
    public string Device { get; init; } = ComputeDevice.Auto;

    /// <summary>Samples per forward pass.</summary>
    public int BatchSize { get; init; } = DefaultBatchSize;

    /// <summary>Seed of a synthetic task's samples.</summary>
    public int Seed { get; init; } = DefaultSeed;

    /// <summary>P, the season of the seasonal-naive forecast eval compares a forecast model with; 0: none.</summary>
    public int Season { get; init; }

    /// <summary>Other data to evaluate on (on top of the run's spec); none given: the run's validation set.</summary>
    public DataSelection Data { get; init; } = new();

    /// <summary>Checks the batch size and that no data option changes the columns or their normalization.</summary>
    /// <exception cref="LstmException">A bad value; the message names its option.</exception>
    public void Validate()
    {
        if (BatchSize < 1)
            throw new LstmException($"--batch-size {BatchSize}: must be ≥ 1");
        if (Season < 0)
            throw new LstmException($"--season {Season}: must be ≥ 1");
        foreach (var (option, value) in new[] { ("--target", Data.Target), ("--features", Data.Features), ("--horizon", Data.Horizon?.ToString(CultureInfo.InvariantCulture)), ("--normalize", Data.Normalize), ("--difference", Data.Difference?.ToString(CultureInfo.InvariantCulture)), ("--target-mode", Data.TargetMode) })
        {
            if (value is not null)
                throw new LstmException($"{option} {value}: eval reads the columns the run was trained on, as it normalized them");
        }
    }
}

/// <summary>The error of one target column.</summary>
/// <param name="Name">The column's name (<c>target</c> or <c>output k</c> where it has none).</param>
/// <param name="Mse">Mean squared error.</param>
/// <param name="Rmse">Its root.</param>
/// <param name="Mae">Mean absolute error.</param>
/// <param name="OriginalUnits">Whether these are in the column's original units (denormalized).</param>
public sealed record ColumnError(string Name, double Mse, double Rmse, double Mae, bool OriginalUnits);

/// <summary>What an evaluation measured: <see cref="Columns"/> for forecasts, else the class metrics.</summary>
/// <param name="NormalizedMse">The MSE of the z-scored targets (the training loss), where they were normalized.</param>
/// <param name="Columns">One error per target column of a forecast; empty for classes.</param>
/// <param name="CrossEntropy">Classes: the mean cross-entropy in nats.</param>
/// <param name="Correct">Classes: right predictions.</param>
/// <param name="Count">Classes: predictions.</param>
/// <param name="Classes">Classes: V.</param>
public sealed record EvaluationMetrics(double? NormalizedMse, IReadOnlyList<ColumnError> Columns, double CrossEntropy, long Correct, long Count, int Classes)
{
    /// <summary>Forecasts: the errors per step ahead and the naive forecasts' (<see cref="ForecastScoring"/>), else null.</summary>
    public ForecastScore? Forecast { get; init; }

    /// <summary>Whether these are class metrics.</summary>
    public bool IsClasses => Classes > 0;
}

/// <summary>
/// A trained run on a data set, in index order without dropout. Forecasts: MSE, RMSE and MAE in
/// the target columns' original units (and the MSE of the normalized values the run trained on);
/// classes: cross-entropy (nats), perplexity and accuracy. <see cref="Open"/> checks everything,
/// <see cref="Measure"/> runs it.
/// </summary>
public sealed class Evaluation : IDisposable
{
    private readonly TrainedRun _run;
    private readonly ISequenceDataset _data;
    private readonly int _batchSize;

    private readonly int _season;

    private Evaluation(TrainedRun run, ISequenceDataset data, string what, int batchSize, int season)
    {
        _season = season;
        _run = run;
        _data = data;
        What = what;
        _batchSize = batchSize;
    }

    /// <summary>Where the weights came from.</summary>
    public string ModelDirectory => _run.ModelDirectory;

    /// <summary>The model in one line.</summary>
    public string Model => TrainingRun.Describe(_run.Model.Config);

    /// <summary>What the samples are.</summary>
    public string What { get; }

    /// <summary>The device.</summary>
    public ComputeDevice Device => _run.Device;

    /// <summary>Checks the settings, opens the run, prepares the data and checks that it fits the model.</summary>
    /// <param name="settings">The settings.</param>
    /// <exception cref="LstmException">A bad setting, run or data, or data of another shape than the model's.</exception>
    public static Evaluation Open(EvaluationSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        var run = TrainedRun.Open(settings.Run, settings.Device);
        try
        {
            var spec = run.Config.Data;
            ISequenceDataset data;
            string what;
            if (settings.Data.AnyGiven)
            {
                var evalSpec = settings.Data.ToSpec(spec) with { Seed = settings.Seed };
                data = evalSpec.PrepareEvaluation(run.Data);
                what = evalSpec.Source == "task" ? $"{data.Count} new samples of the {evalSpec.Task} task (seed {settings.Seed})" : $"{data.Count} windows of {evalSpec.Path}";
            }
            else
            {
                data = spec.Prepare().Validation;
                what = $"the run's {data.Count} validation samples";
            }

            var model = run.Model;
            int expectedInput = model.Input == SequenceInput.Tokens ? 1 : model.Config.InputSize;
            if (data.InputSize != expectedInput)
                throw new LstmException($"the data has {data.InputSize} values per step; the model of {run.ModelDirectory} reads {expectedInput}");
            int rowsPerSample = model.Output == SequenceOutput.EveryStep ? data.Steps : 1;
            int expectedTarget = model.Input == SequenceInput.Tokens ? rowsPerSample : rowsPerSample * model.OutputSize;
            if (data.TargetLength != expectedTarget)
                throw new LstmException($"the data has {data.TargetLength} target values per sample; the model of {run.ModelDirectory} gives {expectedTarget}");
            return new Evaluation(run, data, what, settings.BatchSize, settings.Season);
        }
        catch
        {
            run.Dispose();
            throw;
        }
    }

    /// <summary>Runs the model over every sample.</summary>
    public EvaluationMetrics Measure()
    {
        var model = _run.Model;
        var spec = _run.Config.Data;
        return model.Input == SequenceInput.Tokens
            ? Classes(model, _data, _batchSize)
            : _data is ForecastDataset forecast ? Forecasts(model, forecast, _batchSize, spec.Source == "csv" ? spec.Targets : null, _season)
            : Values(model, _data, _batchSize, _run.Data.TargetStats, spec.Source == "csv" ? spec.Targets : null);
    }

    private static EvaluationMetrics Forecasts(SequenceNetwork<float> model, ForecastDataset data, int batchSize, IReadOnlyList<string>? names, int season)
    {
        var score = ForecastScoring.Score(model, data, batchSize, names, season);
        return new EvaluationMetrics(data.Transform.UsesStatistics ? score.NormalizedMse : null, score.Columns, 0, 0, 0, 0) { Forecast = score };
    }

    /// <summary>Closes the run.</summary>
    public void Dispose() => _run.Dispose();

    private static EvaluationMetrics Values(SequenceNetwork<float> model, ISequenceDataset data, int batchSize, ZScoreStatistics? stats, IReadOnlyList<string>? names)
    {
        int o = model.OutputSize;
        var sse = new double[o];
        var sae = new double[o];
        double normalizedSse = 0;
        foreach (var (x, y, b) in Batches(data, batchSize))
        {
            var rows = model.Predict(Array.ConvertAll(x, v => (float)v), b, data.Steps);
            for (int i = 0; i < b; i++)
            {
                for (int k = 0; k < o; k++)
                {
                    double p = rows[i][k], t = y[i * o + k];
                    normalizedSse += (p - t) * (p - t);
                    if (stats is not null)
                    {
                        p = stats.Denormalize(k, p);
                        t = stats.Denormalize(k, t);
                    }

                    sse[k] += (p - t) * (p - t);
                    sae[k] += Math.Abs(p - t);
                }
            }
        }

        int n = data.Count;
        var columns = new ColumnError[o];
        for (int k = 0; k < o; k++)
        {
            string name = names is not null && k < names.Count ? names[k] : o == 1 ? "target" : $"output {k}";
            columns[k] = new ColumnError(name, sse[k] / n, Math.Sqrt(sse[k] / n), sae[k] / n, stats is not null);
        }

        return new EvaluationMetrics(stats is not null ? normalizedSse / (n * o) : null, columns, 0, 0, 0, 0);
    }

    private static EvaluationMetrics Classes(SequenceNetwork<float> model, ISequenceDataset data, int batchSize)
    {
        int v = model.OutputSize;
        double nll = 0;
        long correct = 0, count = 0;
        foreach (var (x, y, b) in Batches(data, batchSize))
        {
            using var tokens = Tensor<float>.FromArray(model.Device, Array.ConvertAll(x, d => (float)d), b, data.Steps);
            using var logits = model.Forward(tokens);
            var z = logits.ToArray();
            int rows = z.Length / v;
            for (int r = 0; r < rows; r++)
            {
                var row = z.AsSpan(r * v, v);
                int target = (int)y[r];
                double max = double.NegativeInfinity;
                int arg = 0;
                for (int c = 0; c < v; c++)
                {
                    if (row[c] > max)
                    {
                        max = row[c];
                        arg = c;
                    }
                }

                double sum = 0;
                for (int c = 0; c < v; c++)
                    sum += Math.Exp(row[c] - max);
                nll += Math.Log(sum) + max - row[target];
                correct += arg == target ? 1 : 0;
                count++;
            }
        }

        return new EvaluationMetrics(null, [], nll / count, correct, count, v);
    }

    /// <summary>The samples in index order, <paramref name="batchSize"/> at a time (the last batch may be smaller): x [b, T, I], y [b, targets].</summary>
    internal static IEnumerable<(double[] X, double[] Y, int B)> Batches(ISequenceDataset data, int batchSize)
    {
        int xLen = data.Steps * data.InputSize, yLen = data.TargetLength;
        for (int start = 0; start < data.Count; start += batchSize)
        {
            int b = Math.Min(batchSize, data.Count - start);
            var x = new double[b * xLen];
            var y = new double[b * yLen];
            for (int i = 0; i < b; i++)
                data.Fill(start + i, x.AsSpan(i * xLen, xLen), y.AsSpan(i * yLen, yLen));
            yield return (x, y, b);
        }
    }
}

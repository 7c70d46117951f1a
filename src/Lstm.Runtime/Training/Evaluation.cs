using System.Globalization;
using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;
using Lstm.Runtime.Persistence;
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

    /// <summary>Other data to evaluate on (on top of the run's spec); none given: the run's validation set (and its test set, where it keeps one). Its <c>Season</c> sets the seasonal naive baseline's season either way.</summary>
    public DataSelection Data { get; init; } = new();

    /// <summary>A CSV file to write each window's forecast beside the truth to (atomically), or null.</summary>
    public string? Output { get; init; }

    /// <summary>Checks the batch size and that no data option changes the columns or their normalization.</summary>
    /// <exception cref="LstmException">A bad value; the message names its option.</exception>
    public void Validate()
    {
        if (BatchSize < 1)
            throw new LstmException($"--batch-size {BatchSize}: must be ≥ 1");
        foreach (var (option, value) in new[] { ("--target", Data.Target), ("--features", Data.Features), ("--horizon", Data.Horizon?.ToString(CultureInfo.InvariantCulture)), ("--normalize", Data.Normalize), ("--difference", Data.Difference?.ToString(CultureInfo.InvariantCulture)), ("--target-mode", Data.TargetMode) })
        {
            if (value is not null)
                throw new LstmException($"{option} {value}: eval reads the columns the run was trained on, as it normalized them");
        }

        if (Data.TestFraction is { } test)
            throw new LstmException($"--test-fraction {test.ToString(CultureInfo.InvariantCulture)}: eval scores the run's own split (its test rows were kept out of training); a new split needs a new run");
        if (Data.Season is { } season && season < 2)
            throw new LstmException($"--season {season}: must be ≥ 2 (rows per season)");
    }

    /// <summary>Whether other data than the run's own is named (<c>--season</c> alone is not data).</summary>
    internal bool OtherData => (Data with { Season = null }).AnyGiven;
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
    /// <summary>Forecasts: the errors per step ahead and the naive forecasts' (<see cref="StepScoring"/>), else null.</summary>
    public ForecastScore? Forecast { get; init; }

    /// <summary>Whether these are class metrics.</summary>
    public bool IsClasses => Classes > 0;

    /// <summary>Classes: the cross-entropy in bits (per character, for a character model): nats / ln 2.</summary>
    public double Bits => CrossEntropy / Math.Log(2);

    /// <summary>Classes: the perplexity, e^cross-entropy.</summary>
    public double Perplexity => Math.Exp(CrossEntropy);
}

/// <summary>
/// A trained run on a data set, in index order without dropout. Forecasts: MSE, RMSE and MAE in
/// the target columns' original units (and the MSE of the normalized values the run trained on),
/// and for a CSV the baselines on the same windows (<see cref="ForecastBaselines"/>) with the
/// model's skill against the best; classes: cross-entropy (nats and bits), perplexity and
/// accuracy. On the run's own data the validation set is scored and, where the run keeps test
/// rows, the test set. <see cref="Open"/> checks everything, <see cref="MeasureAll"/> runs it.
/// </summary>
public sealed class Evaluation : IDisposable
{
    /// <summary>One set to score: its samples and, for a CSV, the rows they forecast.</summary>
    private sealed record Part(string Name, string Description, ISequenceDataset Data, ForecastRows? Rows, int FirstRow, IReadOnlyList<string> Notes, IReadOnlyList<string>? Warnings = null);

    private readonly TrainedRun _run;
    private readonly IReadOnlyList<Part> _parts;
    private readonly IReadOnlyList<ForecastBaselines>? _baselines;
    private readonly int _batchSize;

    private Evaluation(TrainedRun run, IReadOnlyList<Part> parts, IReadOnlyList<ForecastBaselines>? baselines, int batchSize)
    {
        _run = run;
        _parts = parts;
        _baselines = baselines;
        _batchSize = batchSize;
    }

    /// <summary>Where the weights came from.</summary>
    public string ModelDirectory => _run.ModelDirectory;

    /// <summary>The model in one line.</summary>
    public string Model => TrainingRun.Describe(_run.Model.Config);

    /// <summary>What the samples are: the sets' names and sizes, or the other data.</summary>
    public string What => _parts.Count == 1 && _parts[0].Rows is null ? _parts[0].Description
        : _parts[0].Name == "data" ? _parts[0].Description
        : "the run's " + string.Join(" and ", _parts.Select(p => $"{p.Data.Count} {p.Name}")) + $" {(_parts[0].Rows is null ? "samples" : "windows")}";

    /// <summary>The device.</summary>
    public ComputeDevice Device => _run.Device;

    /// <summary>Checks the settings, opens the run, prepares the data and checks that it fits the model.</summary>
    /// <param name="settings">The settings.</param>
    /// <exception cref="LstmException">A bad setting, run or data, or data of another shape than the model's.</exception>
    public static Evaluation Open(EvaluationSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        if (settings.Output is { } output)
        {
            AtomicFile.CheckTarget(output, "--output");
            string? dir = Path.GetDirectoryName(Path.GetFullPath(output));
            if (dir is not null && !Directory.Exists(dir))
                throw new LstmException($"--output {output}: the folder {dir} does not exist");
        }
        var run = TrainedRun.Open(settings.Run, settings.Device);
        try
        {
            var spec = run.Config.Data;
            var model = run.Model;
            if (settings.Output is not null && model.Input == SequenceInput.Tokens)
                throw new LstmException($"--output {settings.Output}: writes a forecast's predictions; the model of {run.ModelDirectory} predicts classes");
            if (settings.Data.Season is { } given && !settings.OtherData && spec.Source != "csv")
                throw new LstmException($"--season {given}: the seasonal naive baseline is for a CSV forecast; this run was trained on a {spec.Source}");
            int season = settings.Data.Season ?? spec.Season;
            var parts = new List<Part>();
            IReadOnlyList<ForecastBaselines>? baselines = null;
            if (settings.OtherData)
            {
                var evalSpec = settings.Data.ToSpec(spec) with { Seed = settings.Seed };
                var data = evalSpec.PrepareEvaluation(run.Data);
                string what = evalSpec.Source == "task" ? $"{data.Count} new samples of the {evalSpec.Task} task (seed {settings.Seed})" : $"{data.Count} windows of {evalSpec.Path}";
                var notes = new List<string>();
                ForecastRows? rows = null;
                if (evalSpec.Source == "csv" && model.Input == SequenceInput.Values)
                {
                    rows = evalSpec.EvaluationRows();
                    try
                    {
                        // Baselines are fitted on the run's own training rows, as the model was.
                        var own = (spec with { Season = season }).Prepare();
                        baselines = own.Forecast is { } r ? ForecastBaselines.FitSteps(r, season, evalSpec.Horizon) : null;
                    }
                    catch (LstmException e)
                    {
                        notes.Add($"baselines left out: the run's own data, which they are fitted on, cannot be read: {e.Message}");
                    }
                }

                // The first window's last target row: D rows later than without differencing.
                parts.Add(new Part("data", what, data, rows, rows is null ? 0 : rows.FirstTarget + evalSpec.Difference, notes));
            }
            else
            {
                var prepared = (spec with { Season = season }).Prepare();
                var rows = prepared.Forecast;
                if (rows is not null && model.Input == SequenceInput.Values)
                    baselines = ForecastBaselines.FitSteps(rows, season, spec.Horizon);
                var warnings = prepared.Warnings;
                parts.Add(new Part("validation", ForecastScoring.Describe("validation", prepared.Validation.Count, rows, rows?.TrainRows ?? 0, "chose the checkpoint"),
                    prepared.Validation, rows, rows?.TrainRows ?? 0, [], warnings.Where(w => w.Contains("validation", StringComparison.Ordinal)).ToArray()));
                if (prepared.Test.Count > 0 && rows is not null)
                {
                    parts.Add(new Part("test", ForecastScoring.Describe("test", prepared.Test.Count, rows, rows.TestStart, "never trained on nor used to choose a checkpoint"),
                        prepared.Test, rows, rows.TestStart, [], warnings.Where(w => w.Contains("test", StringComparison.Ordinal)).ToArray()));
                }
            }

            var first = parts[0].Data;
            int expectedInput = model.Input == SequenceInput.Tokens ? 1 : model.Config.InputSize;
            if (first.InputSize != expectedInput)
                throw new LstmException($"the data has {first.InputSize} values per step; the model of {run.ModelDirectory} reads {expectedInput}");
            int rowsPerSample = model.Output == SequenceOutput.EveryStep ? first.Steps : 1;
            int expectedTarget = model.Input == SequenceInput.Tokens ? rowsPerSample : rowsPerSample * model.OutputSize;
            if (first.TargetLength != expectedTarget)
                throw new LstmException($"the data has {first.TargetLength} target values per sample; the model of {run.ModelDirectory} gives {expectedTarget}");
            return new Evaluation(run, parts, baselines, settings.BatchSize);
        }
        catch
        {
            run.Dispose();
            throw;
        }
    }

    /// <summary>Runs the model over every sample of the first set (the validation set, or the other data).</summary>
    public EvaluationMetrics Measure() => MeasureAll()[0].Metrics;

    /// <summary>Runs the model over every set: the validation set and the test set (where the run keeps one), or the other data.</summary>
    public IReadOnlyList<EvaluationSet> MeasureAll()
    {
        var model = _run.Model;
        var spec = _run.Config.Data;
        var names = spec.Source == "csv" ? spec.Targets : null;
        return _parts.Select(p => model.Input == SequenceInput.Tokens
            ? new EvaluationSet(p.Name, p.Description, Classes(model, p.Data, _batchSize), [], p.Notes) { Warnings = p.Warnings ?? [] }
            : ForecastScoring.Score(p.Name, p.Description, model, p.Data, _batchSize, _run.Data.TargetStats, names, p.Rows, p.FirstRow, _baselines, p.Notes, p.Warnings ?? [])).ToList();
    }

    /// <summary>Closes the run.</summary>
    public void Dispose() => _run.Dispose();

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

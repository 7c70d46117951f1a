namespace Lstm.Runtime.Data;

/// <summary>
/// Windows over a multivariate time series for forecasting: sample s has inputs
/// x = features[s, s + W) ([W, F]) and target y = targets[s + W - 1 + h] ([O]), h the horizon
/// (h = 1: the step right after the window). Values are z-scored with statistics fitted on the
/// training rows only.
/// </summary>
public sealed class ForecastDataset : ISequenceDataset
{
    private readonly double[] _features;
    private readonly double[] _targets;
    private readonly int _first;

    private ForecastDataset(double[] features, int featureCount, double[] targets, int targetCount, int window, int horizon, int first, int count)
    {
        _features = features;
        _targets = targets;
        InputSize = featureCount;
        TargetLength = targetCount;
        Steps = window;
        Horizon = horizon;
        _first = first;
        Count = count;
    }

    /// <inheritdoc/>
    public int Count { get; }

    /// <inheritdoc/>
    public int Steps { get; }

    /// <inheritdoc/>
    public int InputSize { get; }

    /// <inheritdoc/>
    public int TargetLength { get; }

    /// <summary>h.</summary>
    public int Horizon { get; }

    /// <summary>
    /// Splits a series by time: rows [0, R) with R = ⌊rows·trainFraction⌋ train (every window whose
    /// target row is before R), the windows whose target row is at or after R validate. The
    /// statistics are fitted on rows [0, R).
    /// </summary>
    /// <param name="features">The input columns [rows, F].</param>
    /// <param name="targets">The target columns [rows, O] (may be the same columns as features).</param>
    /// <param name="window">W (≥ 1).</param>
    /// <param name="horizon">h (≥ 1).</param>
    /// <param name="trainFraction">In (0, 1].</param>
    public static (ForecastDataset Train, ForecastDataset Validation, ZScoreStatistics Features, ZScoreStatistics Targets) Split(
        TimeSeries features, TimeSeries targets, int window, int horizon, double trainFraction)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (!(trainFraction > 0 && trainFraction <= 1))
            throw new LstmException($"train fraction {trainFraction} must lie in (0, 1]");
        int rows = features.Rows;
        int split = (int)Math.Floor(rows * trainFraction);
        var (train, validation, _, fs, ts) = SplitRows(features, targets, window, horizon, split, rows);
        return (train, validation, fs, ts);
    }

    /// <summary>
    /// Splits a series by time into three: the windows whose target row lies in [0, trainRows)
    /// train, in [trainRows, testStart) validate, in [testStart, rows) test. Only the targets are
    /// split: a validation or test window's inputs may reach back into earlier rows, as they would
    /// when forecasting. The statistics are fitted on rows [0, trainRows).
    /// </summary>
    /// <param name="features">The input columns [rows, F].</param>
    /// <param name="targets">The target columns [rows, O] (may be the same columns as features).</param>
    /// <param name="window">W (≥ 1).</param>
    /// <param name="horizon">h (≥ 1).</param>
    /// <param name="trainRows">The training rows: more than W − 1 + h.</param>
    /// <param name="testStart">The first test row, in [trainRows, rows]; rows: no test set.</param>
    public static (ForecastDataset Train, ForecastDataset Validation, ForecastDataset Test, ZScoreStatistics Features, ZScoreStatistics Targets) SplitRows(
        TimeSeries features, TimeSeries targets, int window, int horizon, int trainRows, int testStart)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(targets);
        if (features.Rows != targets.Rows)
            throw new LstmException($"features have {features.Rows} rows but targets {targets.Rows}");
        if (window < 1 || horizon < 1)
            throw new LstmException($"window ({window}) and horizon ({horizon}) must be ≥ 1");
        int rows = features.Rows;
        int firstTarget = window - 1 + horizon;
        if (trainRows <= firstTarget)
            throw new LstmException($"{rows} rows leave {trainRows} training rows: too few for a window of {window} and a horizon of {horizon}");
        if (testStart < trainRows || testStart > rows)
            throw new LstmException($"the test rows start at {testStart}, outside [{trainRows}, {rows}]");
        var fs = ZScoreStatistics.Fit(features.Columns, features.Values, trainRows);
        var ts = ZScoreStatistics.Fit(targets.Columns, targets.Values, trainRows);
        var f = (double[])features.Values.Clone();
        var t = (double[])targets.Values.Clone();
        fs.Normalize(f);
        ts.Normalize(t);
        ForecastDataset Part(int firstRow, int endRow) =>
            new(f, features.Columns.Count, t, targets.Columns.Count, window, horizon, firstRow - firstTarget, Math.Max(endRow - firstRow, 0));
        return (Part(firstTarget, trainRows), Part(trainRows, testStart), Part(testStart, rows), fs, ts);
    }

    /// <summary>Every window of a series as it is (no normalization, no split).</summary>
    /// <param name="features">The input columns [rows, F].</param>
    /// <param name="targets">The target columns [rows, O].</param>
    /// <param name="window">W (≥ 1).</param>
    /// <param name="horizon">h (≥ 1).</param>
    public static ForecastDataset Windows(TimeSeries features, TimeSeries targets, int window, int horizon)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(targets);
        if (features.Rows != targets.Rows)
            throw new LstmException($"features have {features.Rows} rows but targets {targets.Rows}");
        if (window < 1 || horizon < 1)
            throw new LstmException($"window ({window}) and horizon ({horizon}) must be ≥ 1");
        int count = features.Rows - (window - 1 + horizon);
        if (count < 1)
            throw new LstmException($"{features.Rows} rows are too few for a window of {window} and a horizon of {horizon}");
        return new ForecastDataset(features.Values, features.Columns.Count, targets.Values, targets.Columns.Count, window, horizon, 0, count);
    }

    /// <inheritdoc/>
    public void Fill(int index, Span<double> x, Span<double> y)
    {
        Seeds.CheckIndex(index, Count);
        int s = _first + index;
        _features.AsSpan(s * InputSize, Steps * InputSize).CopyTo(x);
        _targets.AsSpan((s + Steps - 1 + Horizon) * TargetLength, TargetLength).CopyTo(y);
    }
}

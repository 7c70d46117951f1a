namespace Lstm.Runtime.Data;

/// <summary>
/// Windows over a multivariate time series for forecasting H steps at once: the series is first
/// transformed (<see cref="ForecastTransform"/>: differenced D times into u, scaled), then sample s
/// has inputs x = u_features[s, s + W) ([W, F]) and targets y [H, O] (step-major: y[k·O + o] is
/// column o, k + 1 rows after the window's last row a = s + W − 1), each the scaled level of u or
/// its change from u[a]. <see cref="ToValues"/> turns a model's y back into values in the original
/// units, <see cref="Truth"/> gives the true values, <see cref="LastValue"/> the last one known.
/// Statistics are fitted on the training rows only.
/// </summary>
public sealed class ForecastDataset : ISequenceDataset
{
    private readonly double[] _features;
    private readonly double[] _targets;
    private readonly TimeSeries _raw;
    private readonly ForecastTransform _transform;
    private readonly ZScoreStatistics? _fs;
    private readonly ZScoreStatistics? _ts;
    private readonly int _rows;
    private readonly int _first;

    private ForecastDataset(TimeSeries features, TimeSeries rawTargets, ForecastTransform transform, ZScoreStatistics? fs, ZScoreStatistics? ts, int window, int horizon, int first, int count)
    {
        var u = ForecastTransform.Differenced(features, transform.Difference);
        _features = u.Values;
        _targets = ForecastTransform.Differenced(rawTargets, transform.Difference).Values;
        _rows = u.Rows;
        _raw = rawTargets;
        _transform = transform;
        _fs = fs;
        _ts = ts;
        InputSize = features.Columns.Count;
        Outputs = rawTargets.Columns.Count;
        Steps = window;
        Horizon = horizon;
        _first = first;
        Count = count;
    }

    private ForecastDataset(ForecastDataset other, int first, int count)
    {
        _features = other._features;
        _targets = other._targets;
        _rows = other._rows;
        _raw = other._raw;
        _transform = other._transform;
        _fs = other._fs;
        _ts = other._ts;
        InputSize = other.InputSize;
        Outputs = other.Outputs;
        Steps = other.Steps;
        Horizon = other.Horizon;
        _first = first;
        Count = count;
    }

    /// <inheritdoc/>
    public int Count { get; }

    /// <inheritdoc/>
    public int Steps { get; }

    /// <inheritdoc/>
    public int InputSize { get; }

    /// <summary>O·H: every target column at each of the H steps.</summary>
    public int TargetLength => Outputs * Horizon;

    /// <summary>O, the target columns.</summary>
    public int Outputs { get; }

    /// <summary>H, the steps forecast.</summary>
    public int Horizon { get; }

    /// <summary>How the series was transformed.</summary>
    public ForecastTransform Transform => _transform;

    /// <summary>The first row (of the file) each sample's window starts at: sample i's window is rows [FirstRow + i, FirstRow + i + D + W).</summary>
    public int FirstRow => _first;

    /// <summary>Rows of a series that give the first sample's window and targets: W − 1 + H + D plus one.</summary>
    /// <param name="window">W.</param>
    /// <param name="horizon">H.</param>
    /// <param name="difference">D.</param>
    public static long RowsPerSample(int window, int horizon, int difference) => (long)window + horizon + difference;

    /// <summary>
    /// Splits a series by time: rows [0, R) with R = ⌊rows·trainFraction⌋ train (every window whose
    /// last target row is before R), the windows after those validate. The statistics (of the
    /// differenced columns) are fitted on rows [0, R).
    /// </summary>
    /// <param name="features">The input columns [rows, F].</param>
    /// <param name="targets">The target columns [rows, O] (may be the same columns as features).</param>
    /// <param name="window">W (≥ 1).</param>
    /// <param name="horizon">H (≥ 1).</param>
    /// <param name="trainFraction">In (0, 1].</param>
    /// <param name="transform">The transform; null: <see cref="ForecastTransform.Default"/>. Its scaling must fit statistics.</param>
    public static (ForecastDataset Train, ForecastDataset Validation, ZScoreStatistics Features, ZScoreStatistics Targets) Split(
        TimeSeries features, TimeSeries targets, int window, int horizon, double trainFraction, ForecastTransform? transform = null)
    {
        transform ??= ForecastTransform.Default;
        ArgumentNullException.ThrowIfNull(features);
        if (!(trainFraction > 0 && trainFraction <= 1))
            throw new LstmException($"train fraction {trainFraction} must lie in (0, 1]");
        if (!transform.UsesStatistics)
            throw new LstmException("a split without normalization needs no statistics: use Windows and slice it");
        int rows = features.Rows;
        int split = (int)Math.Floor(rows * trainFraction);
        var (train, validation, _, fs, ts) = SplitRows(features, targets, window, horizon, split, rows, transform);
        return (train, validation, fs!, ts!);
    }

    /// <summary>
    /// Splits a series by time into three by each window's last target row (H rows after its window):
    /// the windows whose last target row lies in [0, trainRows) train, in [trainRows, testStart)
    /// validate, in [testStart, rows) test, so that no training or validation window's targets reach
    /// a test row. A validation or test window's inputs may reach back into earlier rows, as they
    /// would when forecasting. The statistics (of the differenced columns, where the transform
    /// scales) are fitted on rows [0, trainRows).
    /// </summary>
    /// <param name="features">The input columns [rows, F].</param>
    /// <param name="targets">The target columns [rows, O] (may be the same columns as features).</param>
    /// <param name="window">W (≥ 1).</param>
    /// <param name="horizon">H (≥ 1).</param>
    /// <param name="trainRows">The training rows: more than W − 1 + H + D.</param>
    /// <param name="testStart">The first test row, in [trainRows, rows]; rows: no test set.</param>
    /// <param name="transform">The transform; null: <see cref="ForecastTransform.Default"/>.</param>
    public static (ForecastDataset Train, ForecastDataset Validation, ForecastDataset Test, ZScoreStatistics? Features, ZScoreStatistics? Targets) SplitRows(
        TimeSeries features, TimeSeries targets, int window, int horizon, int trainRows, int testStart, ForecastTransform? transform = null)
    {
        transform ??= ForecastTransform.Default;
        Check(features, targets, window, horizon);
        int rows = features.Rows;
        int firstTarget = (int)RowsPerSample(window, horizon, transform.Difference) - 1;
        if (trainRows <= firstTarget)
            throw new LstmException($"{rows} rows leave {trainRows} training rows: too few for a window of {window}, a horizon of {horizon}{Differencing(transform)}");
        if (testStart < trainRows || testStart > rows)
            throw new LstmException($"the test rows start at {testStart}, outside [{trainRows}, {rows}]");
        ZScoreStatistics? fs = null, ts = null;
        if (transform.UsesStatistics)
        {
            int d = transform.Difference;
            fs = ZScoreStatistics.Fit(features.Columns, ForecastTransform.Differenced(features, d).Values, trainRows - d);
            ts = ZScoreStatistics.Fit(targets.Columns, ForecastTransform.Differenced(targets, d).Values, trainRows - d);
        }

        // Sample i's last target row is i + firstTarget.
        var all = new ForecastDataset(features, targets, transform, fs, ts, window, horizon, 0, rows - firstTarget);
        ForecastDataset Part(int firstRow, int endRow) => all.Slice(firstRow - firstTarget, Math.Max(endRow - firstRow, 0));
        return (Part(firstTarget, trainRows), Part(trainRows, testStart), Part(testStart, rows), fs, ts);
    }

    /// <summary>Every window of a series as it is (no transform, no split).</summary>
    /// <param name="features">The input columns [rows, F].</param>
    /// <param name="targets">The target columns [rows, O].</param>
    /// <param name="window">W (≥ 1).</param>
    /// <param name="horizon">H (≥ 1).</param>
    public static ForecastDataset Windows(TimeSeries features, TimeSeries targets, int window, int horizon) =>
        Windows(features, targets, window, horizon, new ForecastTransform(0, false, ForecastScaling.None), null, null);

    /// <summary>Every window of a series under a transform with given statistics (those of a trained run), no split.</summary>
    /// <param name="features">The input columns [rows, F].</param>
    /// <param name="targets">The target columns [rows, O].</param>
    /// <param name="window">W (≥ 1).</param>
    /// <param name="horizon">H (≥ 1).</param>
    /// <param name="transform">The transform.</param>
    /// <param name="fs">The features' statistics, where the transform scales.</param>
    /// <param name="ts">The targets' statistics, where the transform scales.</param>
    public static ForecastDataset Windows(TimeSeries features, TimeSeries targets, int window, int horizon, ForecastTransform transform, ZScoreStatistics? fs, ZScoreStatistics? ts)
    {
        ArgumentNullException.ThrowIfNull(transform);
        Check(features, targets, window, horizon);
        CheckStatistics(transform, fs, ts);
        long need = RowsPerSample(window, horizon, transform.Difference);
        if (features.Rows < need)
            throw new LstmException($"{features.Rows} rows are too few for a window of {window} and a horizon of {horizon}{Differencing(transform)} (at least {need} rows are needed)");
        return new ForecastDataset(features, targets, transform, fs, ts, window, horizon, 0, features.Rows - (int)need + 1);
    }

    /// <summary>
    /// The input after a series' last row, for a forecast of the H rows that follow it: a dataset
    /// of no samples whose <see cref="FillLatest"/> and <see cref="LatestValues"/> work on the last
    /// window. Needs W + D rows.
    /// </summary>
    /// <param name="features">The input columns [rows, F].</param>
    /// <param name="targets">The target columns [rows, O] (their last rows anchor the forecast).</param>
    /// <param name="window">W.</param>
    /// <param name="horizon">H.</param>
    /// <param name="transform">The transform.</param>
    /// <param name="fs">The features' statistics, where the transform scales.</param>
    /// <param name="ts">The targets' statistics, where the transform scales.</param>
    public static ForecastDataset Latest(TimeSeries features, TimeSeries targets, int window, int horizon, ForecastTransform transform, ZScoreStatistics? fs, ZScoreStatistics? ts)
    {
        ArgumentNullException.ThrowIfNull(transform);
        Check(features, targets, window, horizon);
        CheckStatistics(transform, fs, ts);
        if (features.Rows < (long)window + transform.Difference)
            throw new LstmException($"{features.Rows} data rows are fewer than the run's window of {window}{(transform.Difference > 0 ? $" plus {transform.Difference} for --difference {transform.Difference}" : "")}");
        return new ForecastDataset(features, targets, transform, fs, ts, window, horizon, features.Rows - window - transform.Difference, 0);
    }

    /// <summary>Samples [start, start + count) of this one, as a dataset of their own.</summary>
    /// <param name="start">The first sample.</param>
    /// <param name="count">How many.</param>
    public ForecastDataset Slice(int start, int count)
    {
        if (start < 0 || count < 0 || (long)start + count > Count)
            throw new LstmException($"samples [{start}, {(long)start + count}) lie outside a dataset of {Count}");
        return new ForecastDataset(this, _first + start, count);
    }

    /// <inheritdoc/>
    public void Fill(int index, Span<double> x, Span<double> y)
    {
        Seeds.CheckIndex(index, Count);
        int a = _first + index + Steps - 1;
        FillInput(a, x);
        int o = Outputs;
        for (int k = 0; k < Horizon; k++)
        {
            for (int c = 0; c < o; c++)
                y[k * o + c] = (_targets[(a + 1 + k) * o + c] - TargetAnchor(a, c)) / TargetScale(c);
        }
    }

    /// <summary>The inputs [W, F] of the window ending at the series' last row.</summary>
    /// <param name="x">[W, F] out.</param>
    public void FillLatest(Span<double> x) => FillInput(_rows - 1, x);

    /// <summary>A model's output for the window ending at the series' last row as values of the H rows after it, in original units.</summary>
    /// <param name="y">[H, O] as the model gives it.</param>
    /// <param name="values">[H, O] out.</param>
    public void LatestValues(ReadOnlySpan<double> y, Span<double> values) => ValuesAt(_rows - 1, y, values);

    /// <summary>A model's output for sample <paramref name="index"/> as values in original units, [H, O].</summary>
    /// <param name="index">The sample.</param>
    /// <param name="y">[H, O] as the model gives it.</param>
    /// <param name="values">[H, O] out.</param>
    public void ToValues(int index, ReadOnlySpan<double> y, Span<double> values)
    {
        Seeds.CheckIndex(index, Count);
        ValuesAt(_first + index + Steps - 1, y, values);
    }

    /// <summary>The true values [H, O] of sample <paramref name="index"/>'s targets in original units.</summary>
    /// <param name="index">The sample.</param>
    /// <param name="values">[H, O] out.</param>
    public void Truth(int index, Span<double> values)
    {
        Seeds.CheckIndex(index, Count);
        int last = RawRow(_first + index + Steps - 1);
        _raw.Values.AsSpan((last + 1) * Outputs, Horizon * Outputs).CopyTo(values);
    }

    /// <summary>The value of target column <paramref name="column"/> at sample <paramref name="index"/>'s window's last row, or <paramref name="back"/> rows before it, in original units.</summary>
    /// <param name="index">The sample.</param>
    /// <param name="column">The target column.</param>
    /// <param name="back">Rows before the last (≥ 0, at most the rows before it in the file).</param>
    public double LastValue(int index, int column, int back = 0)
    {
        Seeds.CheckIndex(index, Count);
        int row = RawRow(_first + index + Steps - 1) - back;
        if (back < 0 || row < 0)
            throw new LstmException($"sample {index}: no row {back} before its window's last row");
        return _raw.Values[row * Outputs + column];
    }

    private int RawRow(int a) => a + _transform.Difference;

    private void FillInput(int a, Span<double> x)
    {
        int f = InputSize;
        int s = a - Steps + 1;
        bool window = _transform.Scaling == ForecastScaling.Window;
        for (int t = 0; t < Steps; t++)
        {
            for (int c = 0; c < f; c++)
            {
                double anchor = window ? _features[a * f + c] : _fs?.Mean[c] ?? 0;
                x[t * f + c] = (_features[(s + t) * f + c] - anchor) / (_fs?.Std[c] ?? 1);
            }
        }
    }

    private double TargetAnchor(int a, int c) =>
        _transform.Anchored ? _targets[a * Outputs + c] : _ts?.Mean[c] ?? 0;

    private double TargetScale(int c) => _ts?.Std[c] ?? 1;

    private void ValuesAt(int a, ReadOnlySpan<double> y, Span<double> values)
    {
        int o = Outputs;
        for (int k = 0; k < Horizon; k++)
        {
            for (int c = 0; c < o; c++)
                values[k * o + c] = y[k * o + c] * TargetScale(c) + TargetAnchor(a, c);
        }

        _transform.Integrate(_raw, RawRow(a), values[..(Horizon * o)]);
    }

    private static void Check(TimeSeries features, TimeSeries targets, int window, int horizon)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(targets);
        if (features.Rows != targets.Rows)
            throw new LstmException($"features have {features.Rows} rows but targets {targets.Rows}");
        if (window < 1 || horizon < 1)
            throw new LstmException($"window ({window}) and horizon ({horizon}) must be ≥ 1");
    }

    private static void CheckStatistics(ForecastTransform transform, ZScoreStatistics? fs, ZScoreStatistics? ts)
    {
        if (transform.UsesStatistics && (fs is null || ts is null))
            throw new LstmException($"--normalize {transform.Scaling.ToString().ToLowerInvariant()} needs the run's statistics");
    }

    private static string Differencing(ForecastTransform transform) =>
        transform.Difference > 0 ? $" and --difference {transform.Difference}" : "";
}

using Lstm.Runtime.Data;

namespace Lstm.Runtime.Training;

/// <summary>A baseline's forecasts of one target column over a set's rows, in original units.</summary>
/// <param name="Name">The baseline and its parameters, e.g. <c>seasonal naive (season 7)</c>.</param>
/// <param name="Predictions">One forecast per window of the set.</param>
public sealed record BaselineForecast(string Name, double[] Predictions);

/// <summary>The baselines of one target column, fitted on a run's training rows.</summary>
/// <param name="Column">The column's name.</param>
/// <param name="Season">Rows per season of the seasonal naive forecast, or null when none was given or detected.</param>
/// <param name="SeasonDetected">Whether <paramref name="Season"/> was detected from the training rows (rather than given).</param>
/// <param name="Mean">The mean of the training rows.</param>
/// <param name="Autoregression">The linear autoregression's intercept and coefficients ([c, a₁, …, a_p]), or null when the training rows are too few to fit one.</param>
public sealed record ColumnBaselines(string Column, int? Season, bool SeasonDetected, double Mean, double[]? Autoregression)
{
    /// <summary>p, the autoregression's order (0 when there is none).</summary>
    public int Order => Autoregression is { } a ? a.Length - 1 : 0;
}

/// <summary>
/// The forecasts a model must beat, in the target columns' original units: persistence (the
/// window's last value), the seasonal naive forecast (the value one season, or as many seasons
/// as the horizon needs, before the target), the training rows' mean, and a linear
/// autoregression on the window's last p values fitted by least squares on the training rows,
/// its order p ∈ [1, min(W, 24)] the one with the lowest validation RMSE.
/// </summary>
public sealed class ForecastBaselines
{
    /// <summary>The highest order of the autoregression tried.</summary>
    public const int MaxOrder = 24;

    private ForecastBaselines(int horizon, IReadOnlyList<ColumnBaselines> columns)
    {
        Horizon = horizon;
        Columns = columns;
    }

    /// <summary>h: forecasts look this many rows past a window's last row.</summary>
    public int Horizon { get; }

    /// <summary>Each target column's fitted baselines.</summary>
    public IReadOnlyList<ColumnBaselines> Columns { get; }

    /// <summary>
    /// Fits every column's baselines on <paramref name="rows"/>' training rows; the
    /// autoregression's order is chosen on its validation rows, the season detected from the
    /// training rows unless <paramref name="season"/> gives it.
    /// </summary>
    /// <param name="rows">The run's rows and split.</param>
    /// <param name="season">Rows per season (≥ 2), or 0 to detect it.</param>
    public static ForecastBaselines Fit(ForecastRows rows, int season)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (season == 1 || season < 0)
            throw new LstmException($"--season {season}: must be ≥ 2");
        var columns = new ColumnBaselines[rows.Targets.Columns.Count];
        for (int k = 0; k < columns.Length; k++)
        {
            var y = rows.Column(k);
            var training = y.AsSpan(0, rows.TrainRows);
            double mean = 0;
            foreach (double v in training)
                mean += v;
            mean /= training.Length;
            int? m = season >= 2 ? season : DetectSeason(training);
            int maxOrder = Math.Min(rows.Window, MaxOrder);
            double[]? best = null;
            double bestError = double.PositiveInfinity;
            for (int p = 1; p <= maxOrder; p++)
            {
                if (FitAutoregression(y, rows.FirstTarget, rows.TrainRows, rows.Horizon, p) is not { } coefficients)
                    break;
                double sse = 0;
                for (int r = rows.TrainRows; r < rows.TestStart; r++)
                {
                    double e = PredictAutoregression(coefficients, y, r, rows.Horizon) - y[r];
                    sse += e * e;
                }

                // The validation rows choose the order (the lowest order among equals); without any, the first order fits.
                if (best is null || sse < bestError)
                {
                    best = coefficients;
                    bestError = sse;
                }
            }

            columns[k] = new ColumnBaselines(rows.Targets.Columns[k], m, season < 2 && m is not null, mean, best);
        }

        return new ForecastBaselines(rows.Horizon, columns);
    }

    /// <summary>
    /// The baselines of a forecast of <paramref name="horizon"/> steps: element k − 1 forecasts k
    /// rows ahead (fitted on <paramref name="rows"/> with a horizon of k), so that each step ahead
    /// is compared with baselines of the same reach.
    /// </summary>
    /// <param name="rows">The rows (their own horizon is ignored).</param>
    /// <param name="season">Rows per season (≥ 2), or 0 to detect it.</param>
    /// <param name="horizon">H (≥ 1).</param>
    public static IReadOnlyList<ForecastBaselines> FitSteps(ForecastRows rows, int season, int horizon)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (horizon < 1)
            throw new LstmException($"a horizon of {horizon}: must be ≥ 1");
        return Enumerable.Range(1, horizon).Select(k => Fit(rows with { Horizon = k }, season)).ToArray();
    }

    /// <summary>
    /// Each baseline's forecasts of column <paramref name="column"/> for the windows whose target
    /// rows are [first, first + count) of <paramref name="rows"/> (the run's own or another
    /// file's, with the same columns). A seasonal naive forecast that would look before the
    /// first row is left out, and said so in <paramref name="notes"/>.
    /// </summary>
    /// <param name="rows">The series the windows are cut from.</param>
    /// <param name="column">The target column.</param>
    /// <param name="first">The first window's target row (≥ W − 1 + h).</param>
    /// <param name="count">Windows.</param>
    /// <param name="notes">Receives a sentence for each baseline left out.</param>
    public IReadOnlyList<BaselineForecast> Predict(ForecastRows rows, int column, int first, int count, ICollection<string> notes)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(notes);
        if (rows.Horizon != Horizon)
            throw new LstmException($"the baselines forecast {Horizon} rows ahead; these rows {rows.Horizon}");
        if (first < rows.FirstTarget || count < 0 || first + count > rows.Rows)
            throw new LstmException($"target rows [{first}, {first + count}) lie outside [{rows.FirstTarget}, {rows.Rows})");
        var c = Columns[column];
        var y = rows.Column(column);
        var forecasts = new List<BaselineForecast>();
        var persistence = new double[count];
        for (int i = 0; i < count; i++)
            persistence[i] = y[first + i - Horizon];
        forecasts.Add(new BaselineForecast("persistence", persistence));
        if (c.Season is { } m)
        {
            int back = SeasonalLookback(m, Horizon);
            string name = $"seasonal naive (season {m}{(c.SeasonDetected ? ", detected" : "")})";
            if (first - back >= 0)
            {
                var seasonal = new double[count];
                for (int i = 0; i < count; i++)
                    seasonal[i] = y[first + i - back];
                forecasts.Add(new BaselineForecast(name, seasonal));
            }
            else
            {
                notes.Add($"{c.Column}: {name} left out: the first target row ({first + 1}) has no value {back} rows before it");
            }
        }
        else
        {
            notes.Add($"{c.Column}: no seasonal naive baseline: no season detected in the training rows (give one with --season N)");
        }

        forecasts.Add(new BaselineForecast("training mean", Enumerable.Repeat(c.Mean, count).ToArray()));
        if (c.Autoregression is { } a)
        {
            var ar = new double[count];
            for (int i = 0; i < count; i++)
                ar[i] = PredictAutoregression(a, y, first + i, Horizon);
            forecasts.Add(new BaselineForecast($"linear AR({c.Order})", ar));
        }
        else
        {
            notes.Add($"{c.Column}: no linear autoregression: too few training windows to fit one");
        }

        return forecasts;
    }

    /// <summary>How many rows before its target the seasonal naive forecast looks: the fewest whole seasons, m·⌈h/m⌉, at or past the horizon.</summary>
    /// <param name="season">m.</param>
    /// <param name="horizon">h.</param>
    public static int SeasonalLookback(int season, int horizon) => season * ((horizon + season - 1) / season);

    /// <summary>
    /// The linear autoregression of order <paramref name="order"/> fitted by least squares:
    /// y[r] ≈ c + Σⱼ aⱼ·y[r − h − j + 1] (j = 1..p) over the target rows r ∈ [first, end) — every
    /// lag inside its window when p ≤ W. Returns [c, a₁, …, a_p], or null when the rows are fewer than p + 1 or the first lag would lie before row 0.
    /// </summary>
    /// <param name="y">The column.</param>
    /// <param name="first">The first target row.</param>
    /// <param name="end">The end of the target rows.</param>
    /// <param name="horizon">h.</param>
    /// <param name="order">p ≥ 1.</param>
    public static double[]? FitAutoregression(ReadOnlySpan<double> y, int first, int end, int horizon, int order)
    {
        if (order < 1 || horizon < 1)
            throw new LstmException($"an autoregression of order {order} and horizon {horizon}: both must be ≥ 1");
        int n = end - first;
        if (n < order + 1 || first - horizon - order + 1 < 0 || end > y.Length)
            return null;
        // Centered on the rows' mean, so that the normal equations stay well conditioned whatever the level.
        double center = 0;
        for (int r = first - horizon - order + 1; r < end; r++)
            center += y[r];
        center /= end - (first - horizon - order + 1);
        int k = order + 1;
        var xtx = new double[k * k];
        var xty = new double[k];
        var row = new double[k];
        for (int r = first; r < end; r++)
        {
            row[0] = 1;
            for (int j = 1; j <= order; j++)
                row[j] = y[r - horizon - j + 1] - center;
            double t = y[r] - center;
            for (int a = 0; a < k; a++)
            {
                xty[a] += row[a] * t;
                for (int b = 0; b <= a; b++)
                    xtx[a * k + b] += row[a] * row[b];
            }
        }

        if (LeastSquares.SolveSymmetric(xtx, xty, k) is not { } beta)
            return null;
        // Back to the original level: y − c₀ = β₀ + Σ aⱼ (y_lag − c₀) ⇒ c = β₀ + c₀ (1 − Σ aⱼ).
        double sum = 0;
        for (int j = 1; j <= order; j++)
            sum += beta[j];
        beta[0] += center * (1 - sum);
        return beta;
    }

    /// <summary>The autoregression's forecast of row <paramref name="row"/>: c + Σⱼ aⱼ·y[row − h − j + 1].</summary>
    /// <param name="coefficients">[c, a₁, …, a_p].</param>
    /// <param name="y">The column.</param>
    /// <param name="row">The target row.</param>
    /// <param name="horizon">h.</param>
    public static double PredictAutoregression(double[] coefficients, ReadOnlySpan<double> y, int row, int horizon)
    {
        ArgumentNullException.ThrowIfNull(coefficients);
        double v = coefficients[0];
        for (int j = 1; j < coefficients.Length; j++)
            v += coefficients[j] * y[row - horizon - j + 1];
        return v;
    }

    /// <summary>
    /// The season of a series: the lag in [2, min(n/2, 1000)] where its autocorrelation peaks
    /// highest among its local maxima, when that peak stands above the noise (above both 0.1 and
    /// 2/√n, the autocorrelation of white noise staying within ±2/√n); null when none does (no
    /// season, or a trend whose autocorrelation only decays). The last 20000 values are used at
    /// most.
    /// </summary>
    /// <param name="values">The training rows of one column.</param>
    public static int? DetectSeason(ReadOnlySpan<double> values)
    {
        var x = values.Length > 20000 ? values[^20000..] : values;
        int n = x.Length;
        int maxLag = Math.Min(n / 2, 1000);
        if (maxLag < 3)
            return null;
        double mean = 0;
        foreach (double v in x)
            mean += v;
        mean /= n;
        double c0 = 0;
        foreach (double v in x)
            c0 += (v - mean) * (v - mean);
        if (!(c0 > 0))
            return null;
        var acf = new double[maxLag + 2];
        for (int lag = 1; lag <= maxLag + 1 && lag < n; lag++)
        {
            double s = 0;
            for (int t = lag; t < n; t++)
                s += (x[t] - mean) * (x[t - lag] - mean);
            acf[lag] = s / c0;
        }

        double threshold = Math.Max(0.1, 2 / Math.Sqrt(n));
        int? best = null;
        for (int lag = 2; lag <= maxLag; lag++)
        {
            bool peak = acf[lag] > acf[lag - 1] && acf[lag] >= acf[lag + 1];
            if (peak && acf[lag] > threshold && (best is null || acf[lag] > acf[best.Value]))
                best = lag;
        }

        return best;
    }
}

/// <summary>Least squares through the normal equations, in float64.</summary>
internal static class LeastSquares
{
    /// <summary>
    /// Solves A·x = b for a symmetric positive semi-definite A [k, k] (its lower triangle read) by
    /// Cholesky; a column that is (numerically) a combination of earlier ones gets coefficient 0.
    /// Null when A is not positive semi-definite.
    /// </summary>
    public static double[]? SolveSymmetric(double[] a, double[] b, int k)
    {
        var l = new double[k * k];
        var skip = new bool[k];
        double scale = 0;
        for (int i = 0; i < k; i++)
            scale = Math.Max(scale, a[i * k + i]);
        double tiny = Math.Max(scale, double.Epsilon) * 1e-12;
        for (int j = 0; j < k; j++)
        {
            double d = a[j * k + j];
            for (int m = 0; m < j; m++)
                d -= l[j * k + m] * l[j * k + m];
            if (d <= tiny)
            {
                if (d < -Math.Sqrt(tiny) * Math.Sqrt(scale))
                    return null;
                skip[j] = true;
                continue;
            }

            double root = Math.Sqrt(d);
            l[j * k + j] = root;
            for (int i = j + 1; i < k; i++)
            {
                double s = a[i * k + j];
                for (int m = 0; m < j; m++)
                    s -= l[i * k + m] * l[j * k + m];
                l[i * k + j] = s / root;
            }
        }

        // L·z = b, then Lᵀ·x = z, with the skipped columns held at 0.
        var z = new double[k];
        for (int i = 0; i < k; i++)
        {
            if (skip[i])
                continue;
            double s = b[i];
            for (int m = 0; m < i; m++)
                s -= l[i * k + m] * z[m];
            z[i] = s / l[i * k + i];
        }

        var x = new double[k];
        for (int i = k - 1; i >= 0; i--)
        {
            if (skip[i])
                continue;
            double s = z[i];
            for (int m = i + 1; m < k; m++)
                s -= l[m * k + i] * x[m];
            x[i] = s / l[i * k + i];
        }

        return x;
    }
}

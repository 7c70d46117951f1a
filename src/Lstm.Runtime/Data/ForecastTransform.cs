using System.Globalization;

namespace Lstm.Runtime.Data;

/// <summary>How a forecast's inputs are scaled: <c>--normalize</c>.</summary>
public enum ForecastScaling
{
    /// <summary>No scaling: values as they are.</summary>
    None,

    /// <summary><c>global</c> (also <c>zscore</c>): every value z-scored with the training rows' mean and std.</summary>
    Global,

    /// <summary><c>window</c>: each window minus its own last value, divided by the training rows' std.</summary>
    Window,
}

/// <summary>
/// How a CSV series becomes a model's inputs and targets and how the model's outputs become values
/// again: the series is differenced <see cref="Difference"/> times (u = Δᴰ x, D = 0..2), u is
/// scaled (<see cref="Scaling"/>), and the H targets after a window are either the scaled levels
/// of u or their change from u at the window's last row (<see cref="Change"/>). The inverse adds
/// the anchor back, multiplies by the std and integrates D times from the last known rows.
/// </summary>
/// <param name="Difference">D: 0 (the values), 1 (their steps) or 2 (the steps' changes).</param>
/// <param name="Change">Targets as the change from the window's last value (<c>--target-mode change</c>) rather than levels.</param>
/// <param name="Scaling">The scaling of inputs and targets.</param>
public sealed record ForecastTransform(int Difference, bool Change, ForecastScaling Scaling)
{
    /// <summary>The largest D.</summary>
    public const int MaxDifference = 2;

    /// <summary>The <c>--normalize</c> values.</summary>
    public const string ScalingNames = "global, window, zscore or none";

    /// <summary>The <c>--target-mode</c> values.</summary>
    public const string TargetModes = "level, change";

    /// <summary>No differencing, level targets, global z-scores: the classic setting.</summary>
    public static ForecastTransform Default { get; } = new(0, false, ForecastScaling.Global);

    /// <summary>Whether statistics are fitted (and saved with the model).</summary>
    public bool UsesStatistics => Scaling != ForecastScaling.None;

    /// <summary>Whether the targets are measured from the window's last value (change targets or window scaling).</summary>
    public bool Anchored => Change || Scaling == ForecastScaling.Window;

    /// <summary>The reading of a <c>--normalize</c> value.</summary>
    /// <param name="value">global, zscore, window or none.</param>
    public static ForecastScaling ScalingOf(string value) => value switch
    {
        "global" or "zscore" => ForecastScaling.Global,
        "window" => ForecastScaling.Window,
        "none" => ForecastScaling.None,
        _ => throw new LstmException($"--normalize {value}: expected {ScalingNames}"),
    };

    /// <summary>The reading of a <c>--target-mode</c> value (true: change).</summary>
    /// <param name="value">level or change.</param>
    public static bool ChangeOf(string value) => value switch
    {
        "level" => false,
        "change" => true,
        _ => throw new LstmException($"--target-mode {value}: expected {TargetModes}"),
    };

    /// <summary>Checks D.</summary>
    /// <param name="difference">D.</param>
    public static void CheckDifference(int difference)
    {
        if (difference is < 0 or > MaxDifference)
            throw new LstmException($"--difference {difference.ToString(CultureInfo.InvariantCulture)}: must be 0, 1 or 2");
    }

    /// <summary>The D-th difference of a table [rows, C]: [rows − D, C], row r of it ending at row r + D of the table.</summary>
    /// <param name="series">The table.</param>
    /// <param name="difference">D.</param>
    public static TimeSeries Differenced(TimeSeries series, int difference)
    {
        ArgumentNullException.ThrowIfNull(series);
        CheckDifference(difference);
        int c = series.Columns.Count;
        var v = series.Values;
        int rows = series.Rows;
        for (int d = 0; d < difference; d++)
        {
            if (rows < 2)
                throw new LstmException($"{series.Rows} rows cannot be differenced {difference} times");
            var next = new double[(rows - 1) * c];
            for (int r = 0; r + 1 < rows; r++)
            {
                for (int k = 0; k < c; k++)
                    next[r * c + k] = v[(r + 1) * c + k] - v[r * c + k];
            }

            v = next;
            rows--;
        }

        return new TimeSeries(series.Columns, difference == 0 ? (double[])v.Clone() : v, rows);
    }

    /// <summary>
    /// Integrates D-th differences back to values: <paramref name="steps"/> [H, C] holds u at the H
    /// rows after row <paramref name="last"/> of <paramref name="raw"/> (the values, [rows, C]); on
    /// return it holds the values at those rows.
    /// </summary>
    /// <param name="raw">The undifferenced table.</param>
    /// <param name="last">The last known row.</param>
    /// <param name="steps">[H, C] in and out.</param>
    public void Integrate(TimeSeries raw, int last, Span<double> steps)
    {
        ArgumentNullException.ThrowIfNull(raw);
        int c = raw.Columns.Count;
        int h = steps.Length / c;
        for (int d = Difference - 1; d >= 0; d--)
        {
            for (int k = 0; k < c; k++)
            {
                // The d-th difference at the last known row: Δ⁰ = x, Δ¹ = x[last] − x[last − 1].
                double acc = raw.Values[last * c + k];
                if (d == 1)
                    acc -= raw.Values[(last - 1) * c + k];
                for (int j = 0; j < h; j++)
                {
                    acc += steps[j * c + k];
                    steps[j * c + k] = acc;
                }
            }
        }
    }
}

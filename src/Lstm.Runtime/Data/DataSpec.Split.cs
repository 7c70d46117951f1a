using System.Globalization;

namespace Lstm.Runtime.Data;

/// <content>
/// Whether a CSV or a text of a given length splits into at least one training and one
/// validation window (and a CSV into a test window where it has a test fraction), and, when it does not, the smallest length that would: found in closed
/// form (the real split's own formula checked at a few lengths beside the exact bound, so
/// floating-point rounding cannot disagree with it), never by counting up.
/// </content>
public sealed partial record DataSpec
{
    /// <summary>Lengths checked on each side of a bound's estimate.</summary>
    private const int Slack = 4;

    /// <summary>
    /// The rows of a CSV's chronological split: the first <c>Train</c> rows train, rows
    /// [Train, TestStart) validate, rows [TestStart, rows) test. The test rows are the last ⌊R·t⌋;
    /// the validation rows the R − ⌊R·(1 − f)⌋ before them (with t = 0 the split of a run without
    /// a test set, row for row).
    /// </summary>
    internal static (long Train, long TestStart) CsvRows(long rows, double valFraction, double testFraction)
    {
        long testRows = (long)Math.Floor(rows * testFraction);
        long beforeTest = (long)Math.Floor(rows * (1 - valFraction));
        return (beforeTest - testRows, rows - testRows);
    }

    /// <summary>
    /// Whether <paramref name="rows"/> CSV rows leave a training window, a validation window and,
    /// with a test fraction t &gt; 0, a test window (<see cref="CsvRows"/>; F = W − 1 + h is the
    /// first target row): train − F ≥ 1, testStart − train ≥ 1, and rows − testStart ≥ 1 when t &gt; 0.
    /// </summary>
    internal static bool CsvSplitFits(long rows, long firstTarget, double valFraction, double testFraction = 0)
    {
        if (rows < 1 || rows > int.MaxValue)
            return false;
        var (train, testStart) = CsvRows(rows, valFraction, testFraction);
        return train - firstTarget >= 1 && testStart - train >= 1 && (testFraction == 0 || rows - testStart >= 1);
    }

    /// <summary>The fewest CSV rows that <see cref="CsvSplitFits"/>, or null when the fractions round the training share to 0 or 1 or no count near the bound fits.</summary>
    internal static long? CsvRowsNeeded(long firstTarget, double valFraction, double testFraction = 0)
    {
        double q = 1 - valFraction - testFraction;
        if (!(q > 0 && q < 1))
            return null;
        // ⌊R·(1 − f)⌋ − ⌊R·t⌋ ≥ F + 1 needs R ≥ (F + 1) / q; R − ⌊R·(1 − f)⌋ ≥ 1 needs R·f ≳ 1 only where
        // rounding eats the remainder; ⌊R·t⌋ ≥ 1 needs R ≥ 1 / t.
        double[] fallbacks = testFraction > 0 ? [1 / valFraction, 1 / testFraction] : [1 / valFraction];
        return Smallest((firstTarget + 1) / q, fallbacks, r => CsvSplitFits(r, firstTarget, valFraction, testFraction));
    }

    /// <summary>Whether a text of <paramref name="length"/> characters leaves W + 1 for training and W + 1 for validation (validation = ⌊n·f⌋).</summary>
    internal static bool TextSplitFits(long length, int window, double valFraction)
    {
        if (length < 1 || length > int.MaxValue)
            return false;
        long validation = (long)Math.Floor(length * valFraction);
        return validation >= window + 1L && length - validation >= window + 1L;
    }

    /// <summary>The fewest characters that <see cref="TextSplitFits"/> (beyond 2³¹ − 1: the estimate), or null when none near the bound fits.</summary>
    internal static long? TextLengthNeeded(int window, double valFraction)
    {
        if (!(valFraction > 0 && valFraction < 1))
            return null;
        double w = window + 1.0;
        return Smallest(Math.Max(w / valFraction, w / (1 - valFraction)), [], n => TextSplitFits(n, window, valFraction));
    }

    /// <summary>
    /// The smallest length that fits: tried at a few lengths beside <paramref name="bound"/> (a
    /// lower bound the fitting lengths cannot go below by more than rounding), then beside each
    /// larger <paramref name="fallbacks"/> estimate, in order; null when none of them fits.
    /// </summary>
    private static long? Smallest(double bound, double[] fallbacks, Func<long, bool> fits)
    {
        foreach (double estimate in fallbacks.Where(e => e > bound).Order().Prepend(bound))
        {
            // Beyond what a file may hold: the estimate itself says how far off it is.
            if (!(estimate < int.MaxValue + 2.0 * Slack))
                return estimate >= long.MaxValue ? long.MaxValue : (long)Math.Ceiling(estimate);
            long center = (long)Math.Ceiling(estimate);
            for (long n = Math.Max(1, center - Slack); n <= center + Slack; n++)
            {
                if (fits(n))
                    return n;
            }
        }

        return null;
    }

    /// <summary>
    /// Values a model cannot take: without normalization every value must lie within float32's
    /// range (the model trains in float32); z-scoring checks its own statistics.
    /// </summary>
    private void CheckMagnitudes(TimeSeries features, TimeSeries targets)
    {
        if (Normalize != "none")
            return;
        foreach (var series in new[] { features, targets })
        {
            int c = series.Columns.Count;
            for (int e = 0; e < series.Values.Length; e++)
            {
                double v = series.Values[e];
                if (Math.Abs(v) > float.MaxValue)
                {
                    throw new LstmException(
                        $"{Path}: data row {e / c + 1}, column '{series.Columns[e % c]}': the value {v.ToString("G6", CultureInfo.InvariantCulture)} lies outside float32's range (±3.4E+38), which the model trains in; use --normalize zscore or rescale the column");
                }
            }
        }
    }
}

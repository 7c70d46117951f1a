using System.Globalization;

namespace Lstm.Runtime.Data;

/// <summary>
/// The time column of a series when its rows are evenly spaced: numbers with a constant step, or
/// dates and times (ISO forms such as <c>2024-01-31</c>, <c>2024-01-31 12:00</c>,
/// <c>2024-01-31T12:00:00</c>) a constant duration or a constant number of months apart (the same
/// day of each month). <see cref="After"/> continues it past the last row in the column's own form.
/// </summary>
public sealed class TimeAxis
{
    private static readonly string[] DateFormats =
    [
        "yyyy-MM-dd", "yyyy-MM-dd HH:mm", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-ddTHH:mm", "yyyy-MM-ddTHH:mm:ss", "yyyy-MM-ddTHH:mm:ssZ",
        "yyyy-MM-dd HH:mm:ss.fff", "yyyy-MM-ddTHH:mm:ss.fff", "yyyy-MM", "yyyy/MM/dd",
    ];

    private readonly Func<int, string> _after;

    private TimeAxis(string column, string step, Func<int, string> after)
    {
        Column = column;
        Step = step;
        _after = after;
    }

    /// <summary>The column's name.</summary>
    public string Column { get; }

    /// <summary>The step between rows, in words (<c>1</c>, <c>1 day</c>, <c>01:00:00</c>, <c>1 month</c>).</summary>
    public string Step { get; }

    /// <summary>The time <paramref name="k"/> rows after the last (k ≥ 1).</summary>
    /// <param name="k">Rows after the last.</param>
    public string After(int k) => _after(k);

    /// <summary>
    /// The axis of a column whose values (the file's rows in order) are evenly spaced numbers or
    /// dates, or null when they are not (fewer than two values, an unreadable value, uneven steps).
    /// </summary>
    /// <param name="column">The column's name.</param>
    /// <param name="values">Its values, in row order.</param>
    public static TimeAxis? Detect(string column, IReadOnlyList<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count < 2)
            return null;
        return Numbers(column, values) ?? Dates(column, values);
    }

    private static TimeAxis? Numbers(string column, IReadOnlyList<string> values)
    {
        var v = new double[values.Count];
        int decimals = 0;
        for (int i = 0; i < v.Length; i++)
        {
            if (!double.TryParse(values[i], NumberStyles.Float, CultureInfo.InvariantCulture, out v[i]) || !double.IsFinite(v[i]))
                return null;
            int dot = values[i].IndexOf('.', StringComparison.Ordinal);
            if (dot >= 0 && values[i].IndexOfAny(['e', 'E']) < 0)
                decimals = Math.Max(decimals, values[i].Length - dot - 1);
        }

        double step = v[1] - v[0];
        double tolerance = 1e-9 * Math.Max(1, v.Max(Math.Abs));
        if (!(Math.Abs(step) > tolerance))
            return null;
        for (int i = 2; i < v.Length; i++)
        {
            if (Math.Abs(v[i] - v[i - 1] - step) > tolerance + Math.Pow(10, -decimals) / 2)
                return null;
        }

        double last = v[^1];
        string F(double x) => Math.Round(x, Math.Min(decimals, 15)).ToString(decimals == 0 ? "0" : "0." + new string('0', decimals), CultureInfo.InvariantCulture);
        return new TimeAxis(column, F(step), k => F(last + k * step));
    }

    private static TimeAxis? Dates(string column, IReadOnlyList<string> values)
    {
        foreach (string format in DateFormats)
        {
            var d = new DateTime[values.Count];
            bool all = true;
            for (int i = 0; i < d.Length && all; i++)
                all = DateTime.TryParseExact(values[i], format, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out d[i]);
            if (!all)
                continue;
            var last = d[^1];
            string F(DateTime t) => t.ToString(format, CultureInfo.InvariantCulture);
            var step = d[1] - d[0];
            if (step > TimeSpan.Zero && d.Zip(d.Skip(1)).All(p => p.Second - p.First == step))
                return new TimeAxis(column, Words(step), k => F(last + k * step));
            int months = Months(d[0], d[1]);
            if (months > 0 && d.All(t => t.Day == d[0].Day && t.TimeOfDay == d[0].TimeOfDay) && d.Zip(d.Skip(1)).All(p => Months(p.First, p.Second) == months))
                return new TimeAxis(column, $"{months} month{(months == 1 ? "" : "s")}", k => F(last.AddMonths(k * months)));
            return null;
        }

        return null;
    }

    private static string Words(TimeSpan step) =>
        step.Ticks % TimeSpan.TicksPerDay == 0 ? $"{step.Days} day{(step.Days == 1 ? "" : "s")}" : step.ToString("c", CultureInfo.InvariantCulture);

    private static int Months(DateTime a, DateTime b) => (b.Year - a.Year) * 12 + b.Month - a.Month;
}

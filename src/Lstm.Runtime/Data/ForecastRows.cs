using System.Globalization;
using CsvHelper;
using CsvHelper.Configuration;

namespace Lstm.Runtime.Data;

/// <summary>
/// A CSV forecast's target columns in original units and where its chronological split falls:
/// the windows whose target row lies in [<see cref="FirstTarget"/>, <see cref="TrainRows"/>)
/// train, in [<see cref="TrainRows"/>, <see cref="TestStart"/>) validate, in
/// [<see cref="TestStart"/>, <see cref="Rows"/>) test. Sample i of a part is the window whose
/// target row is the part's first row + i. Baselines are fitted and scored on these values, and
/// per-row outputs name their rows by <see cref="Labels"/>.
/// </summary>
/// <param name="Targets">The O target columns [rows, O], in the file's units.</param>
/// <param name="Window">W.</param>
/// <param name="Horizon">h.</param>
/// <param name="TrainRows">The rows the model trains on (and baselines are fitted on).</param>
/// <param name="TestStart">The first test row; <see cref="Rows"/> when there is no test set.</param>
public sealed record ForecastRows(TimeSeries Targets, int Window, int Horizon, int TrainRows, int TestStart)
{
    /// <summary>The first row a window can forecast: W − 1 + h.</summary>
    public int FirstTarget => Window - 1 + Horizon;

    /// <summary>The rows of the series.</summary>
    public int Rows => Targets.Rows;

    /// <summary>The name of the column that labels the rows (a timestamp), or null when the file has none.</summary>
    public string? LabelName { get; init; }

    /// <summary>Each row's label (one per row), or null when the file has none.</summary>
    public IReadOnlyList<string>? Labels { get; init; }

    /// <summary>The value of target column <paramref name="column"/> at <paramref name="row"/>.</summary>
    /// <param name="row">0 ≤ row &lt; <see cref="Rows"/>.</param>
    /// <param name="column">0 ≤ column &lt; O.</param>
    public double Value(int row, int column) => Targets.Values[row * Targets.Columns.Count + column];

    /// <summary>Target column <paramref name="column"/> as one array over the rows.</summary>
    /// <param name="column">0 ≤ column &lt; O.</param>
    public double[] Column(int column)
    {
        int c = Targets.Columns.Count;
        var values = new double[Rows];
        for (int r = 0; r < values.Length; r++)
            values[r] = Targets.Values[r * c + column];
        return values;
    }

    /// <summary>
    /// The column that labels a CSV's rows: the file's first column, when it is none of
    /// <paramref name="chosen"/> and is named like a time (date, time, timestamp, day, hour, …)
    /// or holds text rather than numbers; with each kept row's value (rows dropped as
    /// <see cref="TimeSeries.ReadCsv"/> drops them). Null when there is no such column.
    /// </summary>
    /// <param name="path">The CSV.</param>
    /// <param name="chosen">The columns read as numbers.</param>
    /// <param name="missing">What a missing value did to its row.</param>
    /// <param name="rows">The rows <see cref="TimeSeries.ReadCsv"/> kept; labels of another count are not used.</param>
    public static (string Name, string[] Labels)? ReadLabels(string path, IReadOnlyList<string> chosen, MissingValues missing, int rows)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(chosen);
        try
        {
            using var reader = new StreamReader(path);
            var config = new CsvConfiguration(CultureInfo.InvariantCulture) { TrimOptions = TrimOptions.Trim, DetectColumnCountChanges = false };
            using var csv = new CsvReader(reader, config);
            if (!csv.Read() || !csv.ReadHeader() || csv.HeaderRecord is not { Length: > 1 } header || chosen.Contains(header[0]))
                return null;
            var index = chosen.Select(c => Array.IndexOf(header, c)).ToArray();
            var labels = new List<string>(rows);
            while (csv.Read())
            {
                var record = csv.Parser.Record ?? [];
                if (record.Length == 1 && record[0].Length == 0)
                    continue; // A blank line, as TimeSeries skips it.
                if (missing == MissingValues.DropRow && index.Any(i => !IsNumber(i >= 0 && i < record.Length ? record[i] : "")))
                    continue;
                labels.Add(record.Length > 0 ? record[0] : "");
            }

            if (labels.Count != rows || (!TimeLike(header[0]) && labels.All(IsNumber)))
                return null;
            return (header[0], labels.ToArray());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CsvHelperException)
        {
            return null; // Labels are a courtesy; the series itself was read and checked already.
        }
    }

    private static bool IsNumber(string raw) => double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v);

    private static bool TimeLike(string name)
    {
        string n = name.Trim().ToLowerInvariant();
        return n.Contains("date", StringComparison.Ordinal) || n.Contains("time", StringComparison.Ordinal)
            || n is "ds" or "day" or "hour" or "minute" or "second" or "week" or "month" or "year" or "period" or "step" or "t";
    }
}

/// <content>The rows of a CSV forecast (<see cref="ForecastRows"/>) and the warnings of its split.</content>
public sealed partial record DataSpec
{
    /// <summary>Fewer windows than this in a validation or test set draw a warning: their scores are too noisy to trust.</summary>
    public const int FewWindows = 10;

    /// <summary>
    /// Every window of this spec's CSV as <see cref="ForecastRows"/> in original units (no
    /// training rows: for scoring a trained run on another file). The run's own split comes with
    /// <see cref="Prepare"/>, as <see cref="PreparedData.Forecast"/>.
    /// </summary>
    /// <exception cref="LstmException">The file or a value is bad, or it holds too few rows for one window.</exception>
    public ForecastRows EvaluationRows()
    {
        Validate();
        if (Source != "csv")
            throw new LstmException($"forecast rows come from a CSV, not from a {Source}");
        var (_, targets) = ReadColumns();
        if (targets.Rows <= Window - 1 + Horizon)
            throw new LstmException($"{Path}: {targets.Rows} rows are too few for a window of {Window} and a horizon of {Horizon}");
        return ForecastRowsOf(targets, Window - 1 + Horizon, targets.Rows);
    }

    private ForecastRows ForecastRowsOf(TimeSeries targets, int trainRows, int testStart)
    {
        var labels = ForecastRows.ReadLabels(Path!, FeatureColumns.Union(Targets).ToArray(), MissingValuesOf(Missing), targets.Rows);
        return new ForecastRows(targets, Window, Horizon, trainRows, testStart) { LabelName = labels?.Name, Labels = labels?.Labels };
    }

    private static string[] FewWindowWarnings(int validation, int test)
    {
        var warnings = new List<string>();
        if (validation < FewWindows)
            warnings.Add($"only {validation} validation window{(validation == 1 ? "" : "s")}: checkpoints are chosen, and validation scored, on too few to trust ({FewWindows} or more is better)");
        if (test > 0 && test < FewWindows)
            warnings.Add($"only {test} test window{(test == 1 ? "" : "s")}: the test scores rest on too few to trust ({FewWindows} or more is better)");
        return warnings.ToArray();
    }
}

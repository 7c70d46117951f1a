using System.Globalization;
using System.Text;
using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Persistence;

namespace Lstm.Runtime.Training;

/// <summary>The settings of a forecast (<c>lstm predict</c>).</summary>
public sealed record ForecastSettings
{
    /// <summary>The run folder; the run must be trained on a CSV.</summary>
    public string Run { get; init; } = "";

    /// <summary>A CSV with the run's columns (its last W + D rows are the input); null: the run's own file.</summary>
    public string? Csv { get; init; }

    /// <summary>A CSV file to write the forecast to (atomically), or null.</summary>
    public string? Output { get; init; }

    /// <summary>The time column continued in the output; null: the file's first column where its rows are evenly spaced.</summary>
    public string? TimeColumn { get; init; }

    /// <summary>Forecast from the window ending H rows before the file's end, so that its last H rows are the truth to compare with.</summary>
    public bool Holdout { get; init; }

    /// <summary>The device's name.</summary>
    public string Device { get; init; } = ComputeDevice.Auto;
}

/// <summary>A forecast: the target columns at the H rows after the input's last row, in original units.</summary>
/// <param name="Csv">The file read.</param>
/// <param name="Rows">The rows the input ended at (the file's data rows, less H with a hold-out).</param>
/// <param name="Window">W, the rows read.</param>
/// <param name="Horizon">H, the rows forecast.</param>
/// <param name="Targets">The target columns' names.</param>
/// <param name="Values">[H, O] step-major: the forecast.</param>
/// <param name="ModelDirectory">Where the weights came from.</param>
/// <param name="Output">The CSV file to write it to (<see cref="WriteOutput"/>), or null.</param>
public sealed record ForecastResult(string Csv, int Rows, int Window, int Horizon, IReadOnlyList<string> Targets, IReadOnlyList<double> Values, string ModelDirectory, string? Output)
{
    /// <summary>The time column continued over the H rows, or null where the file has no evenly spaced one.</summary>
    public TimeAxis? Time { get; init; }

    /// <summary>With a hold-out: the true values [H, O] of the rows forecast; else null.</summary>
    public IReadOnlyList<double>? Truth { get; init; }

    /// <summary>The target columns' last rows before the forecast, [rows, O], oldest first (for a plot).</summary>
    public IReadOnlyList<double> History { get; init; } = [];

    /// <summary>The time of step k (1..H): the time axis continued, else <c>+k</c>.</summary>
    /// <param name="k">The step.</param>
    public string TimeOf(int k) =>
        Time is null ? "+" + k.ToString(CultureInfo.InvariantCulture) : Truth is null ? Time.After(k) : Time.After(k - Horizon);

    /// <summary>Writes the forecast to <see cref="Output"/> (atomically), if given: a header row <c>horizon[,TIME],TARGET...</c> and H rows.</summary>
    /// <returns>The file written, or null.</returns>
    public string? WriteOutput()
    {
        if (Output is not { } path)
            return null;
        int o = Targets.Count;
        var csv = new StringBuilder();
        csv.Append("horizon,");
        if (Time is not null)
            csv.Append(Field(Time.Column)).Append(',');
        csv.AppendJoin(',', Targets.Select(Field)).Append('\n');
        for (int k = 0; k < Horizon; k++)
        {
            csv.Append((k + 1).ToString(CultureInfo.InvariantCulture)).Append(',');
            if (Time is not null)
                csv.Append(Field(TimeOf(k + 1))).Append(',');
            csv.AppendJoin(',', Values.Skip(k * o).Take(o).Select(v => v.ToString("R", CultureInfo.InvariantCulture))).Append('\n');
        }

        AtomicFile.WriteAllText(path, csv.ToString());
        return path;
    }

    private static string Field(string name) =>
        name.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : name;
}

/// <summary>
/// The forecast of a run trained on a CSV for the H rows after a file's last window: its last
/// W (+ D) rows of the feature columns, transformed as in training (differenced, scaled), give the
/// target columns at the H rows after the file's last row, the transform undone.
/// </summary>
public static class Forecast
{
    /// <summary>Rows of history kept for a plot, at least: a few windows.</summary>
    private const int HistoryWindows = 4;

    /// <summary>Checks the settings (the output's folder must exist), opens the run and forecasts; <see cref="ForecastResult.WriteOutput"/> writes the file.</summary>
    /// <param name="settings">The settings.</param>
    /// <exception cref="LstmException">A missing output folder, a run not trained on a CSV, too few rows, a bad file.</exception>
    public static ForecastResult Run(ForecastSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Output is { } output)
        {
            string? dir = Path.GetDirectoryName(Path.GetFullPath(output));
            if (dir is not null && !Directory.Exists(dir))
                throw new LstmException($"--output {output}: the folder {dir} does not exist");
        }

        using var run = TrainedRun.Open(settings.Run, settings.Device, config =>
        {
            if (config.Data.Source != "csv")
                throw new LstmException($"--run {settings.Run}: predict forecasts CSV columns, but the run was trained on {(config.Data.Source == "task" ? $"the {config.Data.Task} task" : $"the text {config.Data.Path}")}");
        });
        var spec = settings.Csv is { } csv ? run.Config.Data with { Path = csv } : run.Config.Data;
        var (features, targets) = spec.ReadColumns();
        int w = spec.Window, h = spec.Horizon, o = targets.Columns.Count;
        double[]? truth = null;
        if (settings.Holdout)
        {
            if (features.Rows <= h)
                throw new LstmException($"{spec.Path}: {features.Rows} data rows leave none before a hold-out of the last {h} (the run's --horizon)");
            truth = targets.Values[((features.Rows - h) * o)..];
            features = Head(features, features.Rows - h);
            targets = Head(targets, targets.Rows - h);
        }

        ForecastDataset latest;
        try
        {
            latest = ForecastDataset.Latest(features, targets, w, h, spec.Transform, run.Data.FeatureStats, run.Data.TargetStats);
        }
        catch (LstmException e)
        {
            throw new LstmException($"{spec.Path}: {e.Message}", e);
        }

        var x = new double[w * features.Columns.Count];
        latest.FillLatest(x);
        var y = run.Model.Predict(Array.ConvertAll(x, v => (float)v), 1, w)[0];
        if (y.Length != h * o)
            throw new LstmException($"{run.ModelDirectory}: the model gives {y.Length} values, but the run's config asks for {h} steps of {o} columns");
        var values = new double[h * o];
        latest.LatestValues(Array.ConvertAll(y, v => (double)v), values);

        int keep = Math.Min(targets.Rows, HistoryWindows * Math.Max(w, h));
        var time = settings.TimeColumn is { } column
            ? TimeSeries.ReadTextColumn(spec.Path!, column) is { } named ? TimeAxis.Detect(named.Column, named.Values)
                ?? throw new LstmException($"--time-column {column}: the rows of {spec.Path} are not evenly spaced numbers or dates") : throw new LstmException($"--time-column {column}: no such column in {spec.Path}")
            : TimeSeries.ReadTextColumn(spec.Path!, null) is { } first && !spec.FeatureColumns.Contains(first.Column) && !spec.Targets.Contains(first.Column)
                ? TimeAxis.Detect(first.Column, first.Values) : null;
        return new ForecastResult(spec.Path!, features.Rows, w, h, spec.Targets, values, run.ModelDirectory, settings.Output)
        {
            Time = time,
            Truth = truth,
            History = targets.Values[((targets.Rows - keep) * o)..],
        };
    }

    private static TimeSeries Head(TimeSeries series, int rows) =>
        new(series.Columns, series.Values[..(rows * series.Columns.Count)], rows);
}
